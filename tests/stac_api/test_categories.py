"""Category names and codes -> CLC codes -> CQL2, as plain functions."""

from __future__ import annotations

import pytest

from stac_api.categories import (
    InvalidCategorySearch,
    UnknownCategory,
    category_filter,
    resolve,
    split_categories,
)

FORESTS = ("311", "312", "313")
WATER = ("511", "512", "521", "522", "523")


@pytest.mark.parametrize(
    ("category", "codes"),
    [
        ("221", ("221",)),
        (221, ("221",)),
        ("Vineyards", ("221",)),
        ("vineyard", ("221",)),
        ("  broad-leaved   FOREST ", ("311",)),
        ("31", FORESTS),
        ("Forests", FORESTS),
        ("forest", FORESTS),
        ("5", WATER),
        ("Water bodies", WATER),  # level 1 and class 512: the group wins
        ("512", ("512",)),
        ("Industrial,commercial  and transport units", ("121", "122", "123", "124")),
    ],
)
def test_resolve_codes_and_names_at_every_level(category: str | int, codes: tuple) -> None:
    assert resolve(category) == codes


@pytest.mark.parametrize("category", ["999", "6", "3111", "jungle", ""])
def test_unknown_categories_are_refused_with_the_accepted_forms(category: str) -> None:
    with pytest.raises(UnknownCategory, match="CLC code"):
        resolve(category)


def test_split_keeps_names_with_commas_whole() -> None:
    assert split_categories("Beaches, dunes, sands,311, forest") == [
        "Beaches, dunes, sands", "311", "forest"
    ]
    assert split_categories("221,523") == ["221", "523"]


def test_filter_without_fraction_is_an_overlap_on_string_codes() -> None:
    assert category_filter(["221", "forest"]) == {
        "op": "a_overlaps", "args": [{"property": "clc:classes"}, ["221", *FORESTS]]
    }


def test_filter_with_fraction_is_one_comparison_per_class() -> None:
    assert category_filter(["221"], 0.2) == {
        "op": ">=", "args": [{"property": "clc:fraction_221"}, 0.2]
    }
    forest = category_filter(["Forests"], 0.2)
    assert forest is not None and forest["op"] == "or"
    assert [a["args"][0]["property"] for a in forest["args"]] == [
        f"clc:fraction_{c}" for c in FORESTS
    ]


def test_no_categories_no_filter_but_a_fraction_alone_is_refused() -> None:
    assert category_filter(None) is None
    with pytest.raises(InvalidCategorySearch, match="needs categories"):
        category_filter([], 0.2)
