"""Test data for the tiler: a two-class CLC COG near Toulouse and its STAC item in pgstac."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pystac
import rasterio
from affine import Affine
from psycopg_pool import ConnectionPool
from pypgstac.db import PgstacDB
from pypgstac.load import Loader, Methods
from rasterio.io import MemoryFile
from rasterio.warp import transform, transform_bounds
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from catalog_schemas.assets import LANDCOVER_ASSET
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from ingest.outputs.cog import write_cog as pipeline_write_cog

CRS = "EPSG:32631"
ORIGIN = (300_000.0, 4_900_020.0)  # upper-left corner, UTM 31N, south-west of Toulouse
PIXEL = 10.0
SIZE = 256  # pixels a side: 2.56 km

WATER = 41  # CLC 512 water bodies
FOREST = 23  # CLC 311 broad-leaved forest
WATER_RGBA = (128, 242, 230, 255)
FOREST_RGBA = (128, 255, 0, 255)


@dataclass(frozen=True)
class Spot:
    """A point well inside one half of the COG, as WGS84 lon/lat."""

    lon: float
    lat: float


def _spot(col: int, row: int) -> Spot:
    x = ORIGIN[0] + (col + 0.5) * PIXEL
    y = ORIGIN[1] - (row + 0.5) * PIXEL
    (lon,), (lat,) = transform(CRS, "EPSG:4326", [x], [y])
    return Spot(lon, lat)


# Middle of each half, far from the class edge and the borders.
WATER_SPOT = _spot(SIZE // 4, SIZE // 2)
FOREST_SPOT = _spot(3 * SIZE // 4, SIZE // 2)


def write_cog(path: Path, left: int = WATER, right: int = FOREST) -> Path:
    """A one-band uint8 COG, ``left`` in its left half and ``right`` in its right half."""
    data = np.empty((SIZE, SIZE), dtype="uint8")
    data[:, : SIZE // 2] = left
    data[:, SIZE // 2 :] = right
    profile = {
        "driver": "GTiff",
        "dtype": "uint8",
        "count": 1,
        "width": SIZE,
        "height": SIZE,
        "crs": CRS,
        "transform": Affine(PIXEL, 0.0, ORIGIN[0], 0.0, -PIXEL, ORIGIN[1]),
        "nodata": 0,
    }
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data, 1)
        with mem.open() as src:
            # Classes are categories: overviews take the most common class, never an average.
            cog_translate(
                src,
                str(path),
                {**cog_profiles.get("deflate"), "blockxsize": 128, "blockysize": 128},
                overview_resampling="mode",
                overview_level=2,
                in_memory=True,
                quiet=True,
            )
    return path


def write_layer(path: Path, data: np.ndarray, *, nodata: int, categorical: bool = True) -> Path:
    """``data`` as a COG on the test grid, written by the pipeline's own COG writer."""
    transform = Affine(PIXEL, 0.0, ORIGIN[0], 0.0, -PIXEL, ORIGIN[1])
    return pipeline_write_cog(data.astype("uint8"), path, crs=CRS, transform=transform,
                              nodata=nodata, categorical=categorical)


def halves(left: int, right: int, size: int = SIZE) -> np.ndarray:
    """A ``size`` square grid, ``left`` in its left half and ``right`` in its right half."""
    data = np.empty((size, size), dtype="uint8")
    data[:, : size // 2] = left
    data[:, size // 2 :] = right
    return data


def item_dict(
    cog: Path, item_id: str, when: datetime, extra: dict[str, Path] | None = None
) -> dict:
    """A landcover item whose ``landcover`` asset is ``cog`` (plus ``extra`` assets by key)."""
    with rasterio.open(cog) as src:
        bbox = list(transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21))
    west, south, east, north = bbox
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    geometry = {"type": "Polygon", "coordinates": [ring]}
    item = pystac.Item(
        id=item_id,
        geometry=geometry,
        bbox=bbox,
        datetime=when,
        properties={},
        collection=LANDCOVER_COLLECTION_ID,
    )
    item.add_asset(
        LANDCOVER_ASSET,
        pystac.Asset(href=str(cog), media_type=pystac.MediaType.COG, roles=["data"]),
    )
    for key, path in (extra or {}).items():
        item.add_asset(key, pystac.Asset(href=str(path), media_type=pystac.MediaType.COG,
                                         roles=["data"]))
    return item.to_dict()


def load(dsn: str, collections: Iterable[dict] = (), items: Iterable[dict] = ()) -> None:
    """Upsert collections then items with pypgstac's Loader."""
    # Our own pool, closed on exit: PgstacDB's would outlive the test and block DROP DATABASE.
    with ConnectionPool(dsn, min_size=1, max_size=1, open=True) as pool, PgstacDB(pool=pool) as db:
        loader = Loader(db)
        loader.load_collections(iter(list(collections)), Methods.upsert)
        loader.load_items(iter(list(items)), Methods.upsert)
