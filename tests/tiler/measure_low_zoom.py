"""Measure mosaic tile times by zoom, with the service's floor and without it.

    .venv/bin/python -m tests.tiler.measure_low_zoom [--items 40]

Loads ``--items`` speckled 20 km land-cover COGs (MODE overviews, written by the pipeline's COG
writer) on a grid around Toulouse into a fresh pgstac database, starts the tiler twice (floor 8,
then floor 0) and times the tile holding the grid's centre at each zoom. Prints a table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import psycopg
from affine import Affine

from catalog_schemas.collections import landcover_collection
from infra.postgres import libpq_env
from infra.settings import StackSettings
from infra.stack import CORE, Stack
from ingest.outputs.cog import write_cog
from tests.conftest import TEMPLATE_DB, _admin_dsn
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import CRS, item_dict, load
from tests.tiles import WEB_MERCATOR

SIZE, PIXEL = 2048, 10.0
ORIGIN = (300_000.0, 4_900_020.0)
CENTRE = (0.95, 43.85)  # lon, lat: inside the grid below for up to ~6x6 items


def _items(folder: Path, count: int) -> list[dict]:
    side = int(np.ceil(np.sqrt(count)))
    data = np.full((SIZE, SIZE), 41, dtype="uint8")
    data[1::2, 1::2] = 23
    items = []
    for n in range(count):
        row, col = divmod(n, side)
        transform = Affine(PIXEL, 0, ORIGIN[0] + col * 15_000, 0, -PIXEL, ORIGIN[1] - row * 15_000)
        cog = write_cog(data, folder / f"{n}.tif", crs=CRS, transform=transform, nodata=0,
                        categorical=True)
        items.append(item_dict(cog, f"item-{n}", datetime(2024, 1, 1, tzinfo=UTC)
                               + timedelta(days=n)))
    return items


def _time_tiles(base: str, zooms: range, repeat: int = 3) -> dict[int, tuple[int, float]]:
    times = {}
    for z in zooms:
        tile = WEB_MERCATOR.tile(*CENTRE, z)
        url = f"{base}/collections/landcover/tiles/WebMercatorQuad/{z}/{tile.x}/{tile.y}.png"
        samples, status = [], 0
        for _ in range(repeat):
            t0 = time.perf_counter()
            status = httpx.get(url, timeout=120).status_code
            samples.append(time.perf_counter() - t0)
        times[z] = (status, statistics.median(samples))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=36)
    args = parser.parse_args()
    stack = Stack(StackSettings(_env_file=None)).up(CORE)
    name = f"earthsig_measure_{uuid.uuid4().hex[:8]}"
    admin = _admin_dsn(stack, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
    try:
        dsn = _admin_dsn(stack, name)
        with tempfile.TemporaryDirectory() as tmp:
            # Without the render's minmax_zoom, the service's floor alone sets the minimum zoom.
            collection = landcover_collection().to_dict()
            for render in collection["renders"].values():
                render.pop("minmax_zoom", None)
            load(dsn, [collection], _items(Path(tmp), args.items))
            results = {}
            for floor in (8, 0):
                env = {**libpq_env(dsn), "EARTHSIG_TILER_ASSET_ROOTS": tmp,
                       "EARTHSIG_TILER_MOSAIC_MINZOOM": str(floor)}
                with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as base:
                    results[floor] = _time_tiles(base, range(4, 13))
        print(f"{args.items} items of 20 km, median of 3, tile at lon/lat {CENTRE}")
        print("zoom | floor 8: status, s | no floor: status, s")
        for z in range(4, 13):
            (s8, t8), (s0, t0) = results[8][z], results[0][z]
            print(f"{z:4} | {s8} {t8:7.3f} | {s0} {t0:7.3f}")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
