"""Land-cover categories as users name them, turned into CQL2 on ``clc:classes`` / fractions.

A category is a CLC code at any level (``311``; ``31`` = level-2 group "Forests"; ``3`` = level-1
group "Forest and semi natural areas") or a name from the legend at any level, case-insensitive,
singular or plural ("vineyards", "forest", "Water bodies"). A name that is both a group and a
class ("Water bodies": level 1 and class 512) means the group; give the code for the class alone.

``categories`` match items holding ANY of the classes they name. With ``min_fraction`` an item
matches when one of those classes covers at least that share of its valid pixels (items carry
fractions per class; a group's total is not stored, so "forest over 20 %" means one forest class
over 20 %).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from stac_fastapi.types.errors import InvalidQueryParameter

from catalog_schemas import clc, landcover_stats


class UnknownCategory(InvalidQueryParameter):
    """A category that is neither a CLC code nor a legend name."""


class InvalidCategorySearch(InvalidQueryParameter):
    """``min_fraction`` without ``categories``."""


def _normal(name: str) -> str:
    """Case, spacing and the space after commas do not matter in names."""
    return re.sub(r"\s*,\s*", ", ", " ".join(name.split())).casefold()


@cache
def _names() -> dict[str, tuple[str, ...]]:
    """Legend name (normalised) -> CLC codes; groups are added last so they win over classes."""
    names: dict[str, list[str]] = {}
    for level in ("name", "level2", "level1"):
        groups: dict[str, list[str]] = {}
        for c in clc.clc_classes():
            groups.setdefault(_normal(getattr(c, level)), []).append(str(c.clc_code))
        names.update(groups)
    return {name: tuple(codes) for name, codes in names.items()}


def _by_code(code: str) -> tuple[str, ...]:
    codes = tuple(str(c.clc_code) for c in clc.clc_classes() if str(c.clc_code).startswith(code))
    if len(code) > 3 or not codes:
        raise UnknownCategory(f"{code} is not a CLC code (111-523, or a group such as 31 or 3)")
    return codes


def _by_name(name: str) -> tuple[str, ...] | None:
    key = _normal(name)
    for candidate in (key, key + "s", key.removesuffix("s")):
        if candidate in _names():
            return _names()[candidate]
    return None


def resolve(category: str | int) -> tuple[str, ...]:
    """The level-3 CLC codes (strings) a category stands for; raises :class:`UnknownCategory`."""
    text = str(category).strip()
    if text.isdigit():
        return _by_code(text)
    codes = _by_name(text)
    if codes is None:
        raise UnknownCategory(
            f"{text!r} is not a CLC code or a name of the CORINE legend (a class such as "
            "'Vineyards', or a group such as 'Forests' or 'Wetlands')"
        )
    return codes


def split_categories(text: str) -> list[str]:
    """Split a GET ``categories=`` list on commas, keeping names that contain commas whole.

    "Beaches, dunes, sands,311" is two categories: the longest run of comma-separated parts that
    forms a known name is taken first.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    found: list[str] = []
    start = 0
    while start < len(parts):
        for end in range(len(parts), start, -1):
            candidate = ", ".join(parts[start:end])
            if end - start == 1 or _by_name(candidate) is not None:
                found.append(candidate)
                start = end
                break
    return found


def _codes(categories: Iterable[str | int]) -> list[str]:
    codes: dict[str, None] = {}  # ordered, deduplicated
    for category in categories:
        codes.update(dict.fromkeys(resolve(category)))
    return list(codes)


def category_filter(
    categories: Iterable[str | int] | None, min_fraction: float | None = None
) -> dict[str, Any] | None:
    """CQL2-JSON for items holding any of ``categories`` (over ``min_fraction`` when given)."""
    codes = _codes(categories or [])
    if not codes:
        if min_fraction is not None:
            raise InvalidCategorySearch("min_fraction needs categories to apply to")
        return None
    if min_fraction is None:
        # Codes are strings in the items, and pgstac compares arrays as text.
        return {"op": "a_overlaps", "args": [{"property": landcover_stats.CLASSES}, codes]}
    # A fraction exists only for a class present, so no separate presence test is needed.
    over = [
        {"op": ">=", "args": [{"property": landcover_stats.fraction_key(c)}, min_fraction]}
        for c in codes
    ]
    return over[0] if len(over) == 1 else {"op": "or", "args": over}
