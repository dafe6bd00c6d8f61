"""Point query ("identify"): the land-cover class at lon/lat, and which item it comes from.

A mosaic answers with the item a tile would show there: the newest item whose landcover pixel
is valid (and, with ``mask_clouds``, not under cloud or shadow). Confidence and cloud class
come from the item's ``confidence`` and ``cloudmask`` assets when it has them, else null.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, cast

import pystac
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from psycopg_pool import ConnectionPool
from pydantic import BaseModel
from rio_tiler.errors import PointOutsideBounds
from starlette.concurrency import run_in_threadpool
from titiler.pgstac.backend import PGSTACBackend
from titiler.pgstac.dependencies import CollectionIdParams, SearchIdParams
from titiler.pgstac.reader import Item

from catalog_schemas import clc, cloudmask
from catalog_schemas.assets import CLOUDMASK_ASSET, CONFIDENCE_ASSET, LANDCOVER_ASSET
from tiler.errors import NothingHereError
from tiler.paths import AssetRoots
from tiler.readers import MosaicItemReader


class PointClass(BaseModel):
    lon: float
    lat: float
    collection: str
    item: str
    datetime: str | None
    grid_code: int
    clc_code: int
    name: str
    level1: str
    level2: str
    color: str
    confidence: int | None
    cloud: str | None


def _value(reader: MosaicItemReader, asset: str, lon: float, lat: float) -> int | None:
    """The asset's pixel at lon/lat; None for nodata or an asset the item lacks."""
    if asset not in reader.assets:
        return None
    point = reader.point(lon, lat, assets=[asset])
    return None if bool(point.array.mask[0]) else int(point.array.data[0])


def _cloud_name(value: int | None) -> str | None:
    names = {c.value: c.name for c in cloudmask.CLOUD_CLASSES}
    return names.get(value) if value is not None else None


def classify(item: Item, lon: float, lat: float, roots: AssetRoots,
             mask_clouds: bool = False) -> PointClass | None:
    """The class of ``item`` at lon/lat; None where it has no valid (or only clouded) pixel."""
    with MosaicItemReader(item, asset_roots=roots) as reader:
        try:
            code = _value(reader, LANDCOVER_ASSET, lon, lat)
        except PointOutsideBounds:
            return None
        if code is None or code == clc.NODATA:
            return None
        cloud = _value(reader, CLOUDMASK_ASSET, lon, lat)
        if mask_clouds and cloud in cloudmask.OBSCURED:
            return None
        confidence = _value(reader, CONFIDENCE_ASSET, lon, lat)
    cls = clc.by_grid_code(code)
    return PointClass(
        lon=lon, lat=lat, collection=item["collection"], item=item["id"],
        datetime=(item.get("properties") or {}).get("datetime"), grid_code=code,
        clc_code=cls.clc_code, name=cls.name, level1=cls.level1, level2=cls.level2,
        color=f"#{cls.hex_color}", confidence=confidence, cloud=_cloud_name(cloud),
    )


def _item_datetime(pool: ConnectionPool, collection: str, item_id: str) -> str | None:
    # Upstream's point search returns no properties (and cannot be asked to: its cache key
    # must be hashable), so the one item that answers is looked up.
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT datetime FROM pgstac.items WHERE collection = %s AND id = %s",
            (collection, item_id)).fetchone()
    return row[0].isoformat() if row else None


def identify(pool: ConnectionPool, search_id: str, lon: float, lat: float, roots: AssetRoots,
             mask_clouds: bool = False) -> PointClass:
    """What the mosaic of ``search_id`` shows at lon/lat (items newest first)."""
    backend = PGSTACBackend(search_id, pool=pool)
    for item in backend.assets_for_point(lon, lat):
        found = classify(item, lon, lat, roots, mask_clouds)
        if found is not None:
            return found.model_copy(
                update={"datetime": _item_datetime(pool, found.collection, found.item)})
    raise NothingHereError(f"no item has a land-cover class at ({lon}, {lat})")


Lon = Annotated[float, Path(ge=-180, le=180, description="Longitude (WGS84)")]
Lat = Annotated[float, Path(ge=-90, le=90, description="Latitude (WGS84)")]
MaskClouds = Annotated[bool, Query(description="Skip items clouded at the point.")]


def add_identify_routes(
    app: FastAPI, roots: AssetRoots, item_params: Callable[..., pystac.Item]
) -> None:
    """``/identify/{lon},{lat}`` under collections, searches and single items
    (``item_params``: the item dependency of the item tiles, tiler.items)."""
    router = APIRouter(tags=["Point query"])

    @router.get("/collections/{collection_id}/identify/{lon},{lat}", response_model=PointClass)
    async def collection_identify(request: Request, lon: Lon, lat: Lat,
                                  search_id: Annotated[str, Depends(CollectionIdParams)],
                                  mask_clouds: MaskClouds = False) -> PointClass:
        return await run_in_threadpool(identify, request.app.state.dbpool, search_id, lon, lat,
                                       roots, mask_clouds)

    @router.get("/searches/{search_id}/identify/{lon},{lat}", response_model=PointClass)
    async def search_identify(request: Request, lon: Lon, lat: Lat,
                              search_id: Annotated[str, Depends(SearchIdParams)],
                              mask_clouds: MaskClouds = False) -> PointClass:
        return await run_in_threadpool(identify, request.app.state.dbpool, search_id, lon, lat,
                                       roots, mask_clouds)

    @router.get("/collections/{collection_id}/items/{item_id}/identify/{lon},{lat}",
                response_model=PointClass)
    async def item_identify(lon: Lon, lat: Lat,
                            # A default, not Annotated: a local name in a postponed
                            # annotation would not resolve.
                            item: pystac.Item = Depends(item_params)) -> PointClass:  # noqa: B008
        found = await run_in_threadpool(classify, cast(Item, item.to_dict()), lon, lat, roots)
        if found is None:
            raise NothingHereError(f"{item.id} has no land-cover class at ({lon}, {lat})")
        return found

    app.include_router(router)
