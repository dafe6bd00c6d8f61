"""A small catalog for the web map's tests: one 2.56 km square south-west of Toulouse seen on two
dates, each with land cover, cloud mask and confidence, plus the low-zoom pyramid over it.

- 2024-06-01: land cover water | forest (left | right half), no cloud, confidence 80 %;
- 2024-07-01: land cover forest | vineyards, cloud over the right half, confidence 40 %.

The latest map is forest | vineyards; the map as of 2024-06-01 is water | forest: stepping
between the two dates changes the colour of the left half.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from catalog_schemas import clc, cloudmask
from catalog_schemas.assets import CLOUDMASK_ASSET, CONFIDENCE_ASSET, CONFIDENCE_NODATA
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID, landcover_collection
from infra.postgres import libpq_env
from ingest.catalog.pyramid_update import rebuild_pyramid
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import (
    FOREST,
    FOREST_SPOT,
    SIZE,
    WATER,
    WATER_SPOT,
    Spot,
    halves,
    item_dict,
    load,
    write_layer,
)

VINEYARDS = clc.grid_code_of(221)
JUNE, JULY = "2024-06-01", "2024-07-01"
# What each date's map shows in each half: the land cover's grid codes (left, right).
LANDCOVER = {JUNE: (WATER, FOREST), JULY: (FOREST, VINEYARDS)}
CLOUDS = {JUNE: (cloudmask.CLEAR, cloudmask.CLEAR), JULY: (cloudmask.CLEAR, cloudmask.CLOUD)}
CONFIDENCE = {JUNE: 80, JULY: 40}


@dataclass(frozen=True)
class WebMapCatalog:
    tiler: str
    home: Path
    footprint: tuple[float, float, float, float]  # west, south, east, north
    left: Spot  # middle of the left half
    right: Spot


def _item(folder: Path, day: str) -> dict:
    folder.mkdir(parents=True)
    land = write_layer(folder / "landcover.tif", halves(*LANDCOVER[day]), nodata=0)
    clouds = write_layer(folder / "cloudmask.tif", halves(*CLOUDS[day]), nodata=0)
    confidence = write_layer(folder / "confidence.tif",
                             np.full((SIZE, SIZE), CONFIDENCE[day], "uint8"),
                             nodata=CONFIDENCE_NODATA, categorical=False)
    when = datetime.fromisoformat(f"{day}T10:46:21+00:00").astimezone(UTC)
    return item_dict(land, f"web-map-{day}", when,
                     {CLOUDMASK_ASSET: clouds, CONFIDENCE_ASSET: confidence})


@contextmanager
def web_map_catalog(dsn: str, home: Path) -> Iterator[WebMapCatalog]:
    """Load the two items, run a tiler on them and build the collection's pyramid."""
    assets = home / "assets"
    items = [_item(assets / "items" / day, day) for day in (JUNE, JULY)]
    load(dsn, [landcover_collection().to_dict()], items)
    env = {**libpq_env(dsn), "EARTHSIG_HOME": str(home)}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as tiler:
        rebuild_pyramid(dsn, LANDCOVER_COLLECTION_ID, tiler, assets)
        west, south, east, north = items[0]["bbox"]
        yield WebMapCatalog(tiler, home, (west, south, east, north), WATER_SPOT, FOREST_SPOT)
