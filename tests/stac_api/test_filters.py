"""CQL2 parsing and the two pgstac spellings fixed before a filter reaches pgstac."""

from __future__ import annotations

import pytest

from stac_api.filters import InvalidFilter, combine, normalise, parse, properties


def test_cql2_text_integer_lists_become_integers_pgstac_can_match() -> None:
    """cql2 reads ``(221)`` as ``[221.0]``; pgstac compares arrays as text: ``221.0`` != ``221``."""
    parsed = parse("A_CONTAINS(clc:classes, (221, 0.5))", "cql2-text")
    assert parsed["args"][1] == [221.0, 0.5]
    assert normalise(parsed)["args"][1] == [221, 0.5]


def test_spec_spelling_of_containedby_becomes_pgstacs() -> None:
    parsed = parse("A_CONTAINEDBY(clc:classes, ('221', '311'))", "cql2-text")
    assert normalise(parsed)["op"] == "a_contained_by"


def test_non_array_numbers_are_left_alone() -> None:
    parsed = parse({"op": ">", "args": [{"property": "eo:cloud_cover"}, 10.0]})
    assert normalise(parsed) == parsed


@pytest.mark.parametrize(
    ("expression", "lang"),
    [("eo:cloud_cover >", "cql2-text"), ("eo:cloud_cover", "cql2-text"),
     ("{not json", "cql2-json")],
)
def test_unparsable_or_non_boolean_filters_are_invalid(expression: str, lang: str) -> None:
    with pytest.raises(InvalidFilter, match=f"Invalid {lang} filter"):
        parse(expression, lang)


def test_combine_ands_what_is_present() -> None:
    a, b = {"op": "=", "args": [1, 1]}, {"op": "=", "args": [2, 2]}
    assert combine(None, None) is None
    assert combine(a, None) == a
    assert combine(a, b) == {"op": "and", "args": [a, b]}


def test_properties_named_anywhere_in_the_expression() -> None:
    parsed = parse("(eo:cloud_cover < 10 OR \"clc:fraction_221\" > 0.2) AND "
                   "S_INTERSECTS(geometry, POINT(3.87 43.6)) AND A_CONTAINS(clc:classes, ('221'))",
                   "cql2-text")
    assert properties(parsed) == {"eo:cloud_cover", "clc:fraction_221", "geometry",
                                  "clc:classes"}
    assert properties({"op": "=", "args": [1, 1]}) == set()
