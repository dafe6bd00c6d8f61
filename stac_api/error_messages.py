"""Refusals of a request told to a person: the parameter, what is wrong with it, what is expected.

Upstream (stac-fastapi, stac-pydantic, pydantic, cql2) refuses bad parameters in its own words:
a pydantic dump naming ``SearchPostRequest`` and Python types, "Interval string contains more
than one forward slash", "13: JSON decode error". :mod:`stac_api.errors` hands each refusal
here as a :class:`Problem` per parameter; datetime and bbox are diagnosed again from the value
sent, since upstream's words for them say least.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import iso8601
from stac_fastapi.types.rfc3339 import rfc3339_str_to_datetime

DATETIME_FORM = ("an RFC 3339 date-time, or an interval start/end with .. for an open end, e.g. "
                 "2024-07-01T00:00:00Z/2024-08-01T00:00:00Z")
# What each parameter must look like, in the query string (GET) and in a JSON body (POST).
EXPECTED_GET: dict[str, str] = {
    "datetime": DATETIME_FORM,
    "bbox": "west,south,east,north in degrees, longitudes -180 to 180, latitudes -90 to 90, "
            "south below north, e.g. bbox=0.5,44.0,0.8,44.3",
    "limit": "a whole number from 1 to 10000",
    "collections": "collection ids separated by commas, e.g. collections=landcover",
    "ids": "item ids separated by commas",
    "intersects": 'a GeoJSON geometry, e.g. {"type": "Point", "coordinates": [0.6, 44.1]}',
    "sortby": "property names separated by commas, - before one to sort descending, "
              "e.g. sortby=-datetime",
    "fields": "property names separated by commas, - before one to leave it out, "
              "e.g. fields=-geometry",
    "filter": "a CQL2 expression, e.g. filter=eo:cloud_cover < 10",
    "filter-lang": "cql2-text or cql2-json",
    "query": 'a JSON object of property: {operator: value}, e.g. {"eo:cloud_cover": {"lt": 10}}',
    "token": "the token of a next or prev link, as given",
    "categories": "CLC codes or legend names separated by commas, e.g. categories=311,Vineyards",
    "min_fraction": "a share from 0 to 1, e.g. 0.2 for a fifth of the valid pixels",
    "q": "a sentence naming classes, a place and dates, e.g. q=forest near Agen in July 2024",
    "radius_km": "kilometres, more than 0 and at most 500",
}
EXPECTED_POST: dict[str, str] = {
    **EXPECTED_GET,
    "bbox": "[west, south, east, north] in degrees, longitudes -180 to 180, latitudes -90 to "
            "90, south below north, e.g. [0.5, 44.0, 0.8, 44.3]",
    "collections": 'an array of collection ids, e.g. ["landcover"]',
    "ids": "an array of item ids",
    "sortby": 'an array of {"field": name, "direction": "asc" or "desc"}',
    "fields": 'an object {"include": [names], "exclude": [names]}',
    "filter": 'a CQL2-JSON object, e.g. {"op": "<", "args": [{"property": "eo:cloud_cover"}, '
              "10]}",
    "filter-lang": "cql2-json",
    "body": 'a JSON object of search parameters, e.g. {"collections": ["landcover"], '
            '"limit": 10}',
}

# pydantic's error types, said in words (its messages name Python types: "a valid list").
_TYPE_REASONS: dict[str, str] = {
    "int_parsing": "is not a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "is not a number",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "list_type": "must be an array",
    "tuple_type": "must be an array",
    "set_type": "must be an array",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "missing": "is required",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "greater_than": "must be more than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be {expected}",
    "enum": "must be {expected}",
    "string_too_long": "is longer than {max_length} characters",
    "string_too_short": "is shorter than {min_length} characters",
    "too_long": "has more than {max_length} elements",
    "too_short": "has fewer than {min_length} elements",
}
_UNION_REASONS = {"intersects": "is not a GeoJSON geometry (a type and its coordinates)"}
_LOCATIONS = {"query", "body", "path", "header", "cookie"}
_NAME = re.compile(r"^[A-Za-z_][\w:.-]*$")  # a parameter or property, not "tuple[...]"
_NOTHING = object()


@dataclass(frozen=True)
class Problem:
    """What is wrong with one parameter of a request."""

    parameter: str
    reason: str
    got: Any = _NOTHING

    def describe(self, method: str = "GET") -> str:
        forms = EXPECTED_POST if method == "POST" else EXPECTED_GET
        got = "" if self.got is _NOTHING or self.got is None else f" (got {_show(self.got)})"
        expected = forms.get(self.parameter)
        return f"{self.parameter}: {self.reason}{got}" + (f"; expected {expected}"
                                                         if expected else "")


def describe(problems: Iterable[Problem], method: str) -> str:
    return "; ".join(p.describe(method) for p in problems)


def _show(value: Any) -> str:
    if isinstance(value, tuple):  # a GET bbox as upstream parsed it
        value = list(value)
    text = value if isinstance(value, str) else _json_like(value)
    return repr(text) if isinstance(value, str) else text


def _json_like(value: Any) -> str:
    import orjson

    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


# -- datetime and bbox, diagnosed from the value ------------------------------------------

def datetime_reason(value: str | None) -> str | None:
    """What is wrong with a datetime parameter, or ``None`` if nothing this can tell."""
    if not isinstance(value, str):
        return None  # not text at all: pydantic's type error says so
    if not value:
        return "is empty"
    parts = value.split("/")
    if len(parts) > 2:
        return (f"has {len(parts) - 1} slashes: an interval is a start and an end separated by "
                "one /, and a date is written year-month-day (2024-07-01)")
    ends: list[datetime | None] = []
    for part in parts:
        if part in ("", ".."):
            ends.append(None)
            continue
        try:
            ends.append(rfc3339_str_to_datetime(part))
        except iso8601.ParseError as exc:  # a field out of range: "month must be in 1..12"
            return f"{part} is not a date-time: {exc}"
        except ValueError:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", part):
                return (f"{part} is a date without a time: write {part}T00:00:00Z "
                        "(RFC 3339 date-times carry a time and a time zone)")
            return f"{part} is not an RFC 3339 date-time"
    if len(ends) == 2:
        start, end = ends
        if start is None and end is None:
            return "both ends of the interval are open (..): give a start, an end or both"
        if start is not None and end is not None and start > end:
            return f"the interval's start {parts[0]} is after its end {parts[1]}"
    return None


def _numbers(value: Any) -> list[float] | str:
    """The numbers of a bbox as sent, or the reason they are not numbers."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        return "is not an array of numbers"
    numbers = []
    for item in items:
        try:
            if isinstance(item, bool):
                raise ValueError
            numbers.append(float(item))
        except (TypeError, ValueError):
            return f"{_show(item)} is not a number"
    return numbers


def bbox_reason(value: Any) -> str | None:
    """What is wrong with a bbox parameter, or ``None`` if nothing this can tell."""
    if value is None:
        return None
    numbers = _numbers(value)
    if isinstance(numbers, str):
        return numbers
    if len(numbers) not in (4, 6):
        return f"has {len(numbers)} numbers, not 4 (or 6 with heights)"
    if len(numbers) == 6:
        west, south, low, east, north, high = numbers
        if high < low:
            return f"its top height {high:g} is below its bottom height {low:g}"
    else:
        west, south, east, north = numbers
    for name, v, limit in (("west", west, 180), ("east", east, 180), ("south", south, 90),
                           ("north", north, 90)):
        if abs(v) > limit:
            kind = "longitude" if limit == 180 else "latitude"
            return f"its {name} {kind} {v:g} is outside -{limit} to {limit}"
    if north < south:
        return f"its south {south:g} is above its north {north:g}"
    return None


_DIAGNOSE = {"datetime": datetime_reason, "bbox": bbox_reason}


def diagnosed(parameter: str, value: Any, fallback: str) -> Problem:
    """A problem with ``parameter``: our diagnosis of ``value`` where we have one."""
    diagnose = _DIAGNOSE.get(parameter)
    reason = diagnose(value) if diagnose else None
    if reason is None:
        return Problem(parameter, fallback, value)
    # The diagnosis names the faulty part; the whole value is repeated when it is short.
    return Problem(parameter, reason, value if len(_show(value)) <= 80 else _NOTHING)


# -- cql2's errors -----------------------------------------------------------------------

_PEST_POSITION = re.compile(r"-->\s*(\d+):(\d+)")


def filter_reason(said: str, lang: str) -> str:
    """cql2's refusal of a filter, without its grammar's rule names and JSON-schema words."""
    position = _PEST_POSITION.search(said)
    if position:  # the text parser's report: " --> 1:17 | ... = expected GEOMETRY, ..."
        line, column = position.groups()
        where = f"character {column}" + (f" of line {line}" if line != "1" else "")
        return (f"cannot be read as {lang} at {where}: a value, property name or "
                "parenthesis is missing or misplaced there")
    json_at = re.search(r"\(char (\d+)\)", said)
    if json_at:
        return f"cannot be read as {lang}: not valid JSON at character {json_at.group(1)}"
    if "is not valid under any of the schemas" in said or "is not valid" in said:
        return (f"is not a {lang} condition: a comparison such as eo:cloud_cover < 10, or "
                "conditions joined by AND, OR, NOT")
    return f"cannot be read as {lang}: {said}"


# -- pydantic's errors -------------------------------------------------------------------

def _upstream_words(message: str) -> str:
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message.replace("Input should be", "should be").rstrip(".")
    # "Bounding box must..." -> "bounding box must...", but "CQL2 ..." stays.
    return message if message[:2].isupper() else message[:1].lower() + message[1:]


def _reason(error: Mapping[str, Any]) -> str:
    template = _TYPE_REASONS.get(str(error.get("type")))
    if template is not None:
        try:
            return template.format(**(error.get("ctx") or {}))
        except (KeyError, IndexError):
            pass
    return _upstream_words(str(error.get("msg", "is not valid")))


def _where(loc: Sequence[Any]) -> tuple[str, str]:
    """The parameter an error's location names, and the place inside it ("" for itself)."""
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS and (len(parts) > 1 or parts[0] == "body"):
        kind = parts.pop(0)
        if kind == "body" and (not parts or isinstance(parts[0], int)):
            return "body", ""  # the body itself: missing, or not JSON (the int: a position)
    if not parts or not isinstance(parts[0], str):
        return "request", ""
    inside = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts[1:]
                     if isinstance(p, int) or _NAME.match(str(p)))
    return str(parts[0]), inside.removeprefix(".")


def _json_problem(error: Mapping[str, Any]) -> Problem:
    position = error.get("loc", ("body", None))[-1]
    said = (error.get("ctx") or {}).get("error")
    at = f" at character {position}" if isinstance(position, int) else ""
    return Problem("body", f"is not valid JSON{at}" + (f" ({said})" if said else ""))


def _mutually_exclusive(error: Mapping[str, Any]) -> Problem | None:
    message = str(error.get("msg", ""))
    found = re.search(r"(\w+) and (\w+) parameters are mutually exclusive", message)
    if not found:
        return None
    first, second = found.groups()
    return Problem(first, f"cannot be used with {second}: give one of them")


def from_pydantic(errors: Sequence[Mapping[str, Any]],
                  values: Mapping[str, Any] | None = None) -> list[Problem]:
    """One problem per parameter of pydantic's ``errors`` (a union tried member by member
    gives several); ``values`` are the parameters as sent, where the errors carry them not."""
    grouped: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    problems: list[Problem] = []
    for error in errors:
        if error.get("type") == "json_invalid":
            problems.append(_json_problem(error))
            continue
        exclusive = _mutually_exclusive(error)
        if exclusive is not None:
            problems.append(exclusive)
            continue
        parameter, inside = _where(error.get("loc", ()))
        grouped.setdefault(parameter, []).append((inside, error))
    for parameter, found in grouped.items():
        # A member's own refusal (a ValueError) says more than "not a tuple" of each member.
        inside, error = next(((i, e) for i, e in found if e.get("type") == "value_error"),
                             found[0])
        sent = (values or {}).get(parameter, error.get("input"))
        if parameter in _DIAGNOSE:
            problems.append(diagnosed(parameter, sent, _reason(error)))
            continue
        if len(found) == 1:
            reason = f"{inside} {_reason(error)}" if inside else _reason(error)
        else:  # a union refused member by member: what the value should have been
            reason, inside = _UNION_REASONS.get(parameter, "is not valid"), ""
        problems.append(Problem(parameter, reason, sent if not inside else _NOTHING))
    return problems
