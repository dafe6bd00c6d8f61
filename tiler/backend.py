"""The mosaic backend: titiler-pgstac's, with honest zooms and bounds.

Upstream announces zooms 0-24 over the whole world unless a search says otherwise, and draws
any tile asked for; at zoom 5 one tile spans hundreds of products and the request times out.
Here a mosaic is drawn only from its minimum zoom (the collection render's ``minmax_zoom``,
never below the service's floor), lower tiles are refused at once, and the bounds are those of
the items the search matches, read from the catalog on every request: upstream's bounds come
from the search's registered metadata, which for a collection is the collection's extent when
the search was first registered, then cached for 5 minutes (a product published in between
was left off the TileJSON, the WMTS and the web map).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import attr
from fastapi import Query, Request
from psycopg import sql
from psycopg_pool import ConnectionPool
from rio_tiler.models import ImageData
from rio_tiler.types import BBox
from shapely.geometry import shape
from titiler.core.dependencies import DefaultDependency
from titiler.pgstac.backend import PGSTACBackend
from titiler.pgstac.dependencies import PgSTACParams

from catalog_schemas.pyramid import pyramid_root
from tiler.errors import ZoomNotServedError
from tiler.pyramid_tiles import has_pyramid
from tiler.tile_store import FRESH_READS

# Upstream's asset search without its 5-minute cache (keeps its retry and its errors).
_uncached_get_assets = PGSTACBackend.get_assets.__wrapped__

MAX_SCAN_LIMIT = 100_000
MAX_ITEMS_LIMIT = 1_000
MAX_TIME_LIMIT_S = 60

_EXTENT_SQL = (
    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
    "FROM (SELECT ST_Extent(geometry) AS e FROM pgstac.items WHERE {where}) AS x"
)


def items_extent(pool: ConnectionPool, search: dict[str, Any]) -> BBox | None:
    """Bounding box of the items a pgstac search matches (None: no item)."""
    with pool.connection() as conn:
        # pgstac's own translation of the search into SQL, the one its searches run.
        (where,) = conn.execute(  # type: ignore[misc]
            "SELECT pgstac.stac_search_to_where(%s::jsonb)", (json.dumps(search),)
        ).fetchone()
        query = sql.SQL(_EXTENT_SQL).format(where=sql.SQL(where))
        row = conn.execute(query).fetchone()
    if row is None or row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def _intersection(a: BBox, b: BBox) -> BBox:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def search_area(search: dict[str, Any]) -> BBox | None:
    """The box a search itself restricts to (its ``bbox``, or its ``intersects`` geometry's
    bounds); None: anywhere. A 3D bbox keeps its horizontal part."""
    bbox = search.get("bbox")
    if bbox:
        if len(bbox) == 6:
            return (float(bbox[0]), float(bbox[1]), float(bbox[3]), float(bbox[4]))
        return (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3]))
    geometry = search.get("intersects")
    if geometry:
        west, south, east, north = shape(geometry).bounds
        return (west, south, east, north)
    return None


@attr.s
class MosaicBackend(PGSTACBackend):
    """A pgstac search as a mosaic, drawn only between its minimum and maximum zoom."""

    minzoom_floor: int = attr.ib(kw_only=True, default=8)
    default_maxzoom: int = attr.ib(kw_only=True, default=16)
    # The tile goes to the shared store: which items cover it is read now, not from the
    # 5-minute cache, which could predate the store's change tokens.
    fresh_assets: bool = attr.ib(kw_only=True, default=False)

    def get_assets(self, geom: Any, **kwargs: Any) -> list[Any]:
        if self.fresh_assets:
            return _uncached_get_assets(self, geom, **kwargs)
        return super().get_assets(geom, **kwargs)

    def _declared_zooms(self) -> tuple[list[int], list[int]]:
        meta = self.info().metadata
        renders: list[dict[str, Any]] = list((meta.defaults or {}).values())
        # titiler-pgstac turns a collection render's minmax_zoom into minzoom/maxzoom.
        mins = [z for z in [meta.minzoom, *(r.get("minzoom") for r in renders)] if z is not None]
        maxs = [z for z in [meta.maxzoom, *(r.get("maxzoom") for r in renders)] if z is not None]
        return mins, maxs

    # The collection keeps a low-zoom pyramid for this (its default) map: zooms 0-7 are
    # served from it (tiler/pyramid_tiles.py), so TileJSON and WMTS announce them.
    pyramid: bool = attr.ib(kw_only=True, default=False)
    # A WMTS document (every render of the collection) and the collection has a pyramid: the
    # layer of the map it holds announces zoom 0 (tiler/factories.py, ``_mosaic_renders``).
    pyramid_layers: bool = attr.ib(kw_only=True, default=False)

    @property
    def drawn_minzoom(self) -> int:
        """The lowest zoom drawn from the items."""
        mins, _ = self._declared_zooms()
        return max([self.minzoom_floor, *mins[:1]])

    @property
    def minzoom(self) -> int:  # type: ignore[override]
        return 0 if self.pyramid else self.drawn_minzoom

    @property
    def maxzoom(self) -> int:  # type: ignore[override]
        _, maxs = self._declared_zooms()
        return max(self.drawn_minzoom, maxs[0] if maxs else self.default_maxzoom)

    @property
    def bounds(self) -> BBox:  # type: ignore[override]
        # The search's own filters are safe to take from the cached info (its id is their
        # hash); its metadata's bounds are not (a snapshot of the collection's extent).
        search = self.info().input_search
        extent = items_extent(self.pool, search)
        if extent is None:
            return super().bounds
        area = search_area(search)
        return _intersection(extent, area) if area else extent

    def assets_for_tile(self, x: int, y: int, z: int, **kwargs: Any) -> list[Any]:
        if self.reader_options.get("mask_clouds"):
            # pgstac skips items lying wholly under newer ones; with clouds masked, the pixels
            # of those older items are what shows through.
            kwargs.update(skipcovered=False, exitwhenfull=False)
        return super().assets_for_tile(x, y, z, **kwargs)

    def tile(self, x: int, y: int, z: int, **kwargs: Any) -> tuple[ImageData, list[str]]:  # type: ignore[override]
        lowest = self.drawn_minzoom
        if z < lowest:
            raise ZoomNotServedError(
                f"zoom {z} is below this mosaic's minimum zoom {lowest}: a tile there "
                f"would span too many products; zoom in to {lowest} or more "
                "(the TileJSON's minzoom), or use a single item's tiles"
            )
        return super().tile(x, y, z, **kwargs)


@dataclass
class PgSTACLimits(PgSTACParams):
    """titiler-pgstac's item-scan options, bounded.

    Upstream takes any integer: a negative ``scan_limit`` is a SQL error ("LIMIT must not be
    negative"), one past 2^31 is bound as ``bigint`` and matches no pgstac function, a huge
    ``time_limit`` overflows an interval: 500s for what is the client's mistake (422 here).
    """

    scan_limit: Annotated[int | None, Query(
        ge=1, le=MAX_SCAN_LIMIT,
        description=f"Return as soon as we scan N items (1-{MAX_SCAN_LIMIT}; pgstac: 10000).",
    )] = None
    items_limit: Annotated[int | None, Query(
        ge=1, le=MAX_ITEMS_LIMIT,
        description=f"Return as soon as we have N items per geometry (1-{MAX_ITEMS_LIMIT}; "
                    "pgstac: 100).",
    )] = None
    time_limit: Annotated[int | None, Query(
        ge=1, le=MAX_TIME_LIMIT_S,
        description=f"Return after N seconds (1-{MAX_TIME_LIMIT_S}; pgstac: 5).",
    )] = None


def backend_params(minzoom_floor: int, default_maxzoom: int,
                   store: Path | None = None) -> type[DefaultDependency]:
    """Backend options: the app's database pool, the service's zoom limits and whether the
    request's map is a collection's default one with a pyramid under ``store``."""

    @dataclass(init=False)
    class BackendParams(DefaultDependency):
        pool: ConnectionPool = field(init=False)
        minzoom_floor: int = field(init=False)
        default_maxzoom: int = field(init=False)
        fresh_assets: bool = field(init=False)
        pyramid: bool = field(init=False)
        pyramid_layers: bool = field(init=False)

        # Request-only signature: it stays out of the OpenAPI query parameters.
        def __init__(self, request: Request) -> None:
            self.pool = request.app.state.dbpool
            self.minzoom_floor = minzoom_floor
            self.default_maxzoom = default_maxzoom
            self.fresh_assets = bool(request.scope.get(FRESH_READS))
            collection = request.path_params.get("collection_id")
            # WMTS: one capabilities request lists every render of the collection, and only
            # the default one is in the pyramid: zooms are chosen per layer (pyramid_layers).
            wmts = request.url.path.endswith(".xml")
            self.pyramid = bool(
                store and collection and not wmts
                and has_pyramid(store, collection, list(request.query_params.multi_items())))
            self.pyramid_layers = bool(store and collection and wmts
                                       and pyramid_root(store, collection).is_dir())

    return BackendParams
