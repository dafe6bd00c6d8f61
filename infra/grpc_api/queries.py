"""The old API's queries as searches of the STAC catalog (pgstac), and their errors.

``ListSegmentation`` becomes one STAC item search of the ``landcover`` collection: ``wkt`` ->
``intersects``, ``start_date``/``end_date`` -> ``datetime``, ``product_ids`` -> the items'
``earthsig:source_product``, ``categories`` -> the category search's CQL2 (CLC codes or legend
names, ``stac_api.categories``), ``n_results`` -> ``limit`` (0: the server's default; capped at
its maximum). ``SearchSegmentation`` is the text search (``stac_api.text_search``). Newest
first, as pgstac sorts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from shapely.errors import ShapelyError
from stac_fastapi.types.errors import InvalidQueryParameter

from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from catalog_schemas.earthsig_extension import SOURCE_PRODUCT
from infra.grpc_api.settings import GrpcSettings
from stac_api import categories, filters
from stac_api.text_search import interpret
from stac_api.text_search.route import pgstac_search, pgstac_search_body

MAX_WKT_CHARS = 100_000
MAX_LIST_ITEMS = 1000  # product ids or categories in one request
MAX_OVERVIEW_LEVEL = 16


class InvalidRequest(ValueError):
    """The request cannot be answered as asked (INVALID_ARGUMENT; HTTP 400)."""


class TooLarge(Exception):
    """An answer over a server limit (RESOURCE_EXHAUSTED; HTTP 413); the message names it."""


@dataclass(frozen=True)
class ListQuery:
    """ListSegmentationRequest's fields, whatever the transport."""

    wkt: str = ""
    start: datetime | None = None
    end: datetime | None = None
    product_ids: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    n_results: int = 0
    overview_level: int = 0


@dataclass(frozen=True)
class TextQuery:
    """SearchSegmentationRequest's fields."""

    query: str
    n_results: int = 0
    overview_level: int = 0
    wkt: str = ""


@dataclass(frozen=True)
class Found:
    """The items a query selected, and what to read of them."""

    items: list[dict[str, Any]]
    area: shapely.Geometry | None = None  # the crop (WGS84), when the request gave one
    overview_level: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def parse_wkt(wkt: str) -> shapely.Geometry | None:
    """The request's area, or None when it gave none; InvalidRequest names what is wrong."""
    if not wkt.strip():
        return None
    if len(wkt) > MAX_WKT_CHARS:
        raise InvalidRequest(f"wkt: {len(wkt)} characters, over the limit of {MAX_WKT_CHARS}")
    try:
        area = shapely.from_wkt(wkt)
    except (ShapelyError, ValueError) as exc:
        raise InvalidRequest(f"wkt: not a WKT geometry ({exc})") from exc
    if area is None or area.is_empty:
        raise InvalidRequest("wkt: the geometry is empty")
    if area.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidRequest(f"wkt: an area (Polygon or MultiPolygon) is needed, not "
                             f"{area.geom_type}")
    x0, y0, x1, y1 = area.bounds
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise InvalidRequest(f"wkt: coordinates must be WGS84 longitude/latitude; the bounds "
                             f"are {area.bounds}")
    if not area.is_valid:
        raise InvalidRequest(f"wkt: invalid geometry ({shapely.is_valid_reason(area)})")
    return area


def _limit(n_results: int, settings: GrpcSettings) -> int:
    if n_results < 0:
        raise InvalidRequest(f"n_results: {n_results} is negative")
    return min(n_results or settings.default_results, settings.max_results)


def _overview(level: int) -> int:
    if not 0 <= level <= MAX_OVERVIEW_LEVEL:
        raise InvalidRequest(f"overview_level: {level} is outside 0-{MAX_OVERVIEW_LEVEL}")
    return level


def _datetime_range(start: datetime | None, end: datetime | None) -> str | None:
    if start is None and end is None:
        return None
    if start is not None and end is not None and start > end:
        raise InvalidRequest(f"start_date {start.isoformat()} is after end_date "
                             f"{end.isoformat()}")

    def text(moment: datetime | None) -> str:
        return moment.isoformat().replace("+00:00", "Z") if moment else ".."
    return f"{text(start)}/{text(end)}"


def _check_list(name: str, values: tuple[str, ...]) -> None:
    if len(values) > MAX_LIST_ITEMS:
        raise InvalidRequest(f"{name}: {len(values)} values, over the limit of "
                             f"{MAX_LIST_ITEMS}")
    _check_text(name, *values)


def _check_text(name: str, *values: str) -> None:
    # No id, name or sentence holds NUL, and the catalog cannot store or compare it.
    if any("\x00" in v for v in values):
        raise InvalidRequest(f"{name}: a NUL character is not allowed")


def list_body(query: ListQuery, settings: GrpcSettings) -> tuple[dict[str, Any],
                                                                  shapely.Geometry | None]:
    """The pgstac search body of a ListSegmentation request, and its area."""
    area = parse_wkt(query.wkt)
    product_ids = tuple(p.strip() for p in query.product_ids if p.strip())
    if area is None and not product_ids:
        raise InvalidRequest("wkt: an area is needed unless product_ids are given")
    _check_list("product_ids", product_ids)
    _check_list("categories", query.categories)
    body: dict[str, Any] = {"collections": [LANDCOVER_COLLECTION_ID],
                            "limit": _limit(query.n_results, settings)}
    if area is not None:
        body["intersects"] = shapely.geometry.mapping(area)
    interval = _datetime_range(query.start, query.end)
    if interval:
        body["datetime"] = interval
    try:
        wanted = categories.category_filter([c for c in query.categories if c.strip()])
    except InvalidQueryParameter as exc:
        raise InvalidRequest(f"categories: {exc}") from exc
    by_product = {"op": "in", "args": [{"property": SOURCE_PRODUCT}, list(product_ids)]} \
        if product_ids else None
    combined = filters.combine(by_product, wanted)
    if combined is not None:
        body["filter"] = filters.normalise(combined)
        body["filter-lang"] = "cql2-json"
    return body, area


def list_products(query: ListQuery, settings: GrpcSettings, dsn: str = "") -> Found:
    """The items a ListSegmentation request selects, newest first."""
    level = _overview(query.overview_level)
    body, area = list_body(query, settings)
    return Found(pgstac_search(dsn, body).get("features") or [], area, level)


def search_products(query: TextQuery, settings: GrpcSettings, dsn: str = "") -> Found:
    """The items a SearchSegmentation request's text stands for, newest first."""
    level = _overview(query.overview_level)
    area = parse_wkt(query.wkt)
    _check_text("query", query.query)
    try:
        understood = interpret(query.query)
        body = pgstac_search_body(understood, [LANDCOVER_COLLECTION_ID],
                                  _limit(query.n_results, settings))
    except InvalidQueryParameter as exc:
        raise InvalidRequest(f"query: {exc}") from exc
    if area is not None:  # the crop is also a condition: items elsewhere have nothing in it
        body = _and_intersects(body, area)
    return Found(pgstac_search(dsn, body).get("features") or [], area, level,
                 {"query": understood.as_dict()})


def _and_intersects(body: dict[str, Any], area: shapely.Geometry) -> dict[str, Any]:
    """``body`` also requiring the area (a place in the text gives a bbox already)."""
    geometry = {"op": "s_intersects", "args": [{"property": "geometry"},
                                               shapely.geometry.mapping(area)]}
    combined = filters.combine(body.get("filter"), geometry)
    return {**body, "filter": combined, "filter-lang": "cql2-json"}
