"""The tiler's refusals told to a person: the parameter, what is wrong, the form expected.

titiler answers a bad parameter with FastAPI's list of pydantic errors (``int_parsing`` at
``["path", "z"]``, a ``literal_error`` enumerating 200 colormap names), stac-pydantic's
"Value error, Invalid datetime range. Too many values. Must match format: {begin_date}/
{end_date}", cql2's grammar report ("0 validation errors for --> 1:17 ... expected GEOMETRY,
Identifier, ...") or rio-tiler's ``Tile(x=0, y=0, z=99) is outside bounds``. Each is said here
as ``parameter: what is wrong (got value); expected form``. (The STAC API says its own in
``stac_api.error_messages``; serving packages import no other, so the words are kept twice.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from catalog_schemas.assets import CLC_COLORMAP_NAME, LANDCOVER_ASSET

EXPECTED: dict[str, str] = {
    "z": "the zoom level, a whole number from 0 to 24",
    "x": "the tile's column, a whole number from 0 to 2^z - 1",
    "y": "the tile's row, a whole number from 0 to 2^z - 1",
    "format": "png, jpeg, webp, tif or npy",
    "tileMatrixSetId": "WebMercatorQuad (see /tileMatrixSets)",
    "colormap_name": f"a name listed at /colorMaps, e.g. {CLC_COLORMAP_NAME}",
    "colormap": 'a JSON object of value: [r, g, b, a], e.g. {"1": [230, 0, 77, 255]}',
    "assets": f"an asset of the items, e.g. assets={LANDCOVER_ASSET}",
    "datetime": ("an RFC 3339 date-time, or an interval start/end with .. for an open end, e.g. "
                 "2024-07-01T00:00:00Z/2024-08-01T00:00:00Z"),
    "bbox": ("west,south,east,north in degrees, longitudes -180 to 180, latitudes -90 to 90, "
             "south below north, e.g. bbox=0.5,44.0,0.8,44.3"),
    "lon": "a longitude in degrees, -180 to 180",
    "lat": "a latitude in degrees, -90 to 90",
    "rescale": "min,max, e.g. rescale=0,255",
    "resampling": "nearest, bilinear, cubic, cubic_spline, lanczos, average, mode, gauss or rms",
    "filter": "a CQL2 expression, e.g. filter=eo:cloud_cover < 10",
    "tilesize": "a whole number of pixels, e.g. 256 or 512",
    "minzoom": "a whole number from 0 to 24",
    "maxzoom": "a whole number from 0 to 24",
    "body": 'a JSON object of search parameters, e.g. {"collections": ["landcover"]}',
}

_TYPE_REASONS: dict[str, str] = {
    "int_parsing": "is not a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "is not a number",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "list_type": "must be an array",
    "tuple_type": "must be an array",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "missing": "is required",
    "bool_parsing": "must be true or false",
    "greater_than": "must be more than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "string_too_long": "is longer than {max_length} characters",
}
# A choice among more names than a sentence holds: said as where to find them.
_LONG_CHOICES = 12
_LOCATIONS = {"query", "body", "path", "header", "cookie"}
_NAME = re.compile(r"^[A-Za-z_][\w:.-]*$")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return str(value)


def problem(parameter: str, reason: str, got: Any = None, expected: str | None = None) -> str:
    """``parameter: reason (got value); expected form`` (the form :data:`EXPECTED` gives, unless
    ``expected`` says what this request could have asked)."""
    shown = "" if got is None else f" (got {_show(got)})"
    expected = expected or EXPECTED.get(parameter)
    return f"{parameter}: {reason}{shown}" + (f"; expected {expected}" if expected else "")


def _choice(error: Mapping[str, Any]) -> str:
    expected = str((error.get("ctx") or {}).get("expected", ""))
    if expected.count(",") + 1 > _LONG_CHOICES:
        return "is not one of the names this tiler knows"
    return f"must be {expected}"


def _upstream_words(message: str) -> str:
    message = message.removeprefix("Value error, ").replace("Input should be", "should be")
    message = message.split(". Must match format", 1)[0].rstrip(".")
    # stac-pydantic's datetime words, said plainly.
    message = message.replace("Invalid datetime range. Too many values",
                              "has more than one /: an interval is start/end, and a date is "
                              "written year-month-day (2024-07-01)")
    message = message.replace("Invalid datetime range. Begin date after end date",
                              "the interval's start is after its end")
    message = message.replace("Bounding box must be a comma-separated list of numbers",
                              "is not numbers separated by commas")
    message = message.replace("Bounding box must be within (-180, -90, 180, 90)",
                              "reaches outside longitudes -180 to 180 or latitudes -90 to 90")
    return message if message[:2].isupper() else message[:1].lower() + message[1:]


def reason(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type"))
    if kind in ("literal_error", "enum"):
        return _choice(error)
    if kind == "json_invalid":
        said = (error.get("ctx") or {}).get("error")
        position = error.get("loc", ())[-1]
        at = f" at character {position}" if isinstance(position, int) else ""
        return f"is not valid JSON{at}" + (f" ({said})" if said else "")
    template = _TYPE_REASONS.get(kind)
    if template is not None:
        try:
            return template.format(**(error.get("ctx") or {}))
        except (KeyError, IndexError):
            pass
    return _upstream_words(str(error.get("msg", "is not valid")))


def _where(loc: Sequence[Any]) -> tuple[str, str]:
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS:
        kind = parts.pop(0)
        if kind == "body" and (not parts or isinstance(parts[0], int)):
            return "body", ""
    if not parts or not isinstance(parts[0], str):
        return "request", ""
    inside = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts[1:]
                     if isinstance(p, int) or _NAME.match(str(p)))
    return str(parts[0]), inside.removeprefix(".")


def describe_validation(errors: Sequence[Mapping[str, Any]],
                        query: Mapping[str, str] | None = None) -> str:
    """FastAPI's list of pydantic errors as one sentence per parameter."""
    said: dict[str, str] = {}
    for error in errors:
        parameter, inside = _where(error.get("loc", ()))
        if parameter in said:
            continue  # a union tried member by member: its first refusal is enough
        got = (None if inside or error.get("type") in ("missing", "json_invalid")
               else error.get("input"))
        why = f"{inside} {reason(error)}" if inside else reason(error)
        if parameter == "datetime" and isinstance(got, str) and got.count("/") == 1 \
                and "start is after its end" in why:
            start, end = got.split("/")
            why = f"the interval's start {start} is after its end {end}"
        if parameter == "assets" and error.get("type") == "missing" and query \
                and "render" in query:
            parameter, why, got = ("render", "names no render of this collection, so no "
                                   "layer is chosen", query["render"])
        said[parameter] = problem(parameter, why, got)
    return "; ".join(said.values())


_PEST = re.compile(r"-->\s*(\d+):(\d+)")
_TILE = re.compile(r"Tile\(x=(-?\d+), y=(-?\d+), z=(-?\d+)\) is outside bounds")


def describe_detail(detail: str, path: str, query: Mapping[str, str]) -> str:
    """One of upstream's plain messages, said for a person; our own ones are kept."""
    tile = _TILE.search(detail)
    if tile:
        x, y, z = (int(v) for v in tile.groups())
        side = 2 ** z if 0 <= z < 64 else None
        if side is not None and not (0 <= x < side and 0 <= y < side):
            return problem("x" if not 0 <= x < side else "y",
                           f"tile {z}/{x}/{y} does not exist: zoom {z} has {side} columns "
                           f"and rows, 0 to {side - 1}")
        return f"z/x/y: tile {z}/{x}/{y} is outside the data's bounds (the TileJSON's bounds)"
    position = _PEST.search(detail)
    if position and "filter" in query:
        line, column = position.groups()
        where = f"character {column}" + (f" of line {line}" if line != "1" else "")
        return problem("filter", f"cannot be read as cql2-text at {where}: a value, property "
                       "name or parenthesis is missing or misplaced there", query["filter"])
    if detail.startswith("Could not parse the colormap value"):
        return problem("colormap", "is not valid JSON", query.get("colormap"))
    if detail.startswith("Point is outside dataset bounds"):
        return "lon,lat: the point is outside this dataset's bounds"
    if detail == "Not Found":
        return f"nothing at {path}: the routes are listed at /api.html"
    if detail == "Method Not Allowed":
        return f"{path} does not answer this method: see /api.html"
    return detail
