"""``make bench``: the one-product chain timed per stage, against the I/O floor of the same run.

The floor reads the same input bands and writes the same output COG with plain rasterio and
rio-cogeo and no model; the chain's figures are printed as ratios against it.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import psycopg

from catalog_schemas import clc
from inference.settings import InferenceSettings
from inference.windows import windows
from infra.postgres import dsn_for, libpq_env, migrate_pgstac
from infra.settings import StackSettings
from infra.stack import CORE, Stack
from ingest.outputs.cog import write_cog
from ingest.pipeline import process_product
from ingest.readers import load_product, open_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built

BENCH_DB = "earthsig_bench"


def io_floor(href: str, out: Path, window: int) -> float:
    """Read B02/B03/B04/B08 window by window and write a uint8 COG: no model."""
    t0 = time.perf_counter()
    with open_product(load_product(href), ["B02", "B03", "B04", "B08"]) as reader:
        grid = reader.grid
        classes = np.zeros((grid.height, grid.width), np.uint8)
        for w in windows(grid.height, grid.width, window):
            refl, valid = reader.read(w)
            rows, cols = w.toslices()
            classes[rows, cols] = np.where(valid, 1 + (refl[3] > refl[2]), 0)
    write_cog(classes, out, crs=grid.crs, transform=grid.transform, nodata=0,
              categorical=True, colormap=clc.colormap())
    return time.perf_counter() - t0


def bench_database() -> str:
    state = Stack(StackSettings()).up(CORE)
    assert state.postgres is not None
    env = libpq_env(state.postgres.dsn)
    admin = dsn_for(env["PGHOST"], int(env["PGPORT"]), "postgres", env["PGUSER"])
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    dsn = dsn_for(env["PGHOST"], int(env["PGPORT"]), BENCH_DB, env["PGUSER"])
    migrate_pgstac(dsn)
    return dsn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=2048, help="product size in 10 m pixels")
    parser.add_argument("--tile", default="T31TCJ")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="earthsig-bench-", dir=".earthsig") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        href = str(make_sample_product(args.tile, date(2024, 7, 1), args.size, root / "s"))
        generate_s = time.perf_counter() - t0
        inference = InferenceSettings(model_repository=root / "models")
        built(inference.model_repository, inference.default_model)  # not timed
        floor_s = io_floor(href, root / "floor.tif", inference.window_size)
        dsn = bench_database()
        t0 = time.perf_counter()
        result = process_product(href, ingest=IngestSettings(home=root), inference=inference,
                                 dsn=dsn)
        total_s = time.perf_counter() - t0

    mpx = args.size * args.size / 1e6
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n## One product, {args.size} x {args.size} px ({mpx:.1f} Mpx), "
          f"{os.cpu_count()} cores\n")
    print("| stage | seconds | Mpx/s | x I/O floor |")
    print("|---|---:|---:|---:|")
    print(f"| I/O floor (read 4 bands, write COG, no model) | {floor_s:.2f} | "
          f"{mpx / floor_s:.1f} | 1.00 |")
    for stage, seconds in result.timings_s.items():
        print(f"| {stage} | {seconds:.2f} | {mpx / seconds:.1f} | {seconds / floor_s:.2f} |")
    print(f"| **chain total** | {total_s:.2f} | {mpx / total_s:.1f} | {total_s / floor_s:.2f} |")
    print(f"\n(sample generation {generate_s:.1f}s, not counted; peak RSS {peak_mb:.0f} MB)")


if __name__ == "__main__":
    main()
