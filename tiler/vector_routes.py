"""Routes of the land cover as vectors (tiler/vectors.py): GeoJSON of an area, of a collection's
mosaic or of one item, and Mapbox vector tiles of a collection's mosaic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import morecantile
import pystac
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from titiler.pgstac.backend import PGSTACBackend
from titiler.pgstac.dependencies import CollectionIdParams

from tiler.errors import VectorAreaError, ZoomNotServedError
from tiler.paths import AssetRoots
from tiler.vectors import (
    VECTOR_MINZOOM,
    Bounds,
    area_polygons,
    feature_collection,
    tile_bounds,
    vector_tile,
)

MVT = "application/vnd.mapbox-vector-tile"
GEOJSON = "application/geo+json"
# One answer covers at most about one Sentinel-2 tile (1.2 x 0.9 deg at 45 N): larger areas
# are several requests (or vector tiles).
MAX_AREA_DEG2 = 1.5

BBox = Annotated[str, Query(description="west,south,east,north (WGS84), at most "
                                        f"{MAX_AREA_DEG2} square degrees")]


def parse_bbox(text: str) -> Bounds:
    """``w,s,e,n`` as four floats; a clear error when malformed or too large."""
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise VectorAreaError(f"bbox {text!r} is not west,south,east,north") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise VectorAreaError(f"bbox {text!r} is not a WGS84 box with west < east, "
                              "south < north")
    if (east - west) * (north - south) > MAX_AREA_DEG2:
        raise VectorAreaError(f"bbox {text!r} spans more than {MAX_AREA_DEG2} square degrees: "
                              "ask for smaller areas, or use the vector tiles")
    return west, south, east, north


def add_vector_routes(app: FastAPI, roots: AssetRoots,
                      item_params: Callable[..., pystac.Item]) -> None:
    router = APIRouter(tags=["Vectors"])

    @router.get("/collections/{collection_id}/polygons.geojson", response_class=JSONResponse,
                summary="The mosaic's polygons within a bbox (newest item on top)")
    async def collection_geojson(request: Request, bbox: BBox,
                                 search_id: Annotated[str, Depends(CollectionIdParams)]
                                 ) -> Response:
        bounds = parse_bbox(bbox)

        def answer() -> dict[str, object]:
            items = PGSTACBackend(search_id, pool=request.app.state.dbpool).assets_for_bbox(
                *bounds)
            return feature_collection(area_polygons(items, bounds, roots))

        return JSONResponse(await run_in_threadpool(answer), media_type=GEOJSON)

    @router.get("/collections/{collection_id}/items/{item_id}/polygons.geojson",
                response_class=JSONResponse, summary="One item's polygons within a bbox")
    async def item_geojson(bbox: BBox,
                           item: pystac.Item = Depends(item_params)  # noqa: B008
                           ) -> Response:
        bounds = parse_bbox(bbox)
        found = await run_in_threadpool(area_polygons, [item.to_dict()], bounds, roots)
        return JSONResponse(feature_collection(found), media_type=GEOJSON)

    @router.get("/collections/{collection_id}/polygons/tiles/WebMercatorQuad/{z}/{x}/{y}.mvt",
                response_class=Response, summary="The mosaic's polygons as a vector tile")
    async def collection_mvt(request: Request,
                             z: Annotated[int, Path(ge=0, le=24)],
                             x: Annotated[int, Path(ge=0)], y: Annotated[int, Path(ge=0)],
                             search_id: Annotated[str, Depends(CollectionIdParams)]
                             ) -> Response:
        if z < VECTOR_MINZOOM:
            raise ZoomNotServedError(f"zoom {z} is below the vector tiles' minimum zoom "
                                     f"{VECTOR_MINZOOM}: the raster tiles draw smaller scales")
        if x >= 2**z or y >= 2**z:
            raise VectorAreaError(f"tile {z}/{x}/{y} does not exist")
        tile = morecantile.Tile(x, y, z)

        def answer() -> bytes:
            backend = PGSTACBackend(search_id, pool=request.app.state.dbpool)
            items = backend.assets_for_bbox(*tile_bounds(tile))
            return vector_tile(area_polygons(items, tile_bounds(tile), roots), tile)

        return Response(await run_in_threadpool(answer), media_type=MVT)

    app.include_router(router)
