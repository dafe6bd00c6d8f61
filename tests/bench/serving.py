"""Serving tiles: XYZ tile latency and throughput with 16 concurrent clients, our tiler against
plain ``titiler.application`` serving the same COGs, in the same run.

Data (made once, cached under ``.earthsig/bench/serving``): 24 generated products (6 MGRS tiles
around Toulouse-Montpellier x 4 dates, some cloud) processed by the real pipeline
(``ingest.pipeline.process_product``) into the pgstac database ``earthsig_bench_serving``.

Scenarios, each against both servers with the same tile list:

- **item**: one item's land cover at z11-z14. Ours: ``/collections/landcover/items/{id}/tiles``
  (item read from pgstac, ``colormap_name=clc``); plain: ``/cog/tiles?url=<the same COG>``
  (the file's own colour table).
- **mosaic**: the collection at z8-z12 over tiles touching the products. Ours:
  ``/collections/landcover/tiles`` (titiler-pgstac: a pgstac search per tile); plain:
  ``/mosaicjson/tiles`` with a MosaicJSON of the same COGs, newest first, and the same colours.

``--store`` gives our tiler the shared tile store (Redis, ``EARTHSIG_TILE_STORE_URL``) and
first draws the scenarios' tiles ahead with the pipeline's own seeding (``ingest.catalog.seed``: the
item's tiles at z11-z14, the collection's at z8-z12; the load asks for them in the ``xyz`` form
`make demo` prints, the seeding in the bare form of docs/qgis.md), timed, as
publishing does with ``EARTHSIG_SEED_TILER_URL``; the load then finds them stored.

Servers are uvicorn processes on 127.0.0.1 (one worker each, the same environment); the load
generator is this process (asyncio + httpx, 16 connections). Rounds alternate the order of the
two servers so that neither always runs second on a warmer machine.

Run: ``python -m tests.bench.serving`` (about 2-3 min once the data exist); ``--client wrk``
takes the load from Debian's ``wrk`` instead (``tests/bench/wrk_load.py``), whose C clients
leave the two cores to the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

import httpx
import morecantile
import numpy as np
import psycopg
from fastapi import FastAPI
from redis import Redis

import tile_generations as gen
from catalog_schemas import clc
from catalog_schemas.assets import LANDCOVER_ASSET
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from inference.settings import InferenceSettings
from infra.endpoints import TILE_QUERY
from infra.postgres import dsn_for, libpq_env, migrate_pgstac
from infra.settings import StackSettings
from infra.stack import CORE, Stack
from ingest.catalog.seed import CONCURRENCY as CONCURRENCY_SEED
from ingest.catalog.seed import seed_tiles, tile_paths
from ingest.pipeline import process_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.bench.wrk_load import WrkRound, wrk_round
from tests.models import built
from tests.servers import uvicorn_server

CACHE = Path(".earthsig/bench/serving")
DB = "earthsig_bench_serving"
TILES = ("T31TCJ", "T31TDJ", "T31TEJ", "T31TCH", "T31TDH", "T31TEH")
DATES = (date(2024, 5, 12), date(2024, 6, 21), date(2024, 7, 31), date(2024, 8, 25))
CLOUDS = (0.0, 15.0, 5.0, 30.0)
SIZE = 1024  # 10 m pixels a side: 10 km
WMQ = morecantile.tms.get("WebMercatorQuad")
CONCURRENCY = 16


def plain_titiler() -> FastAPI:
    """The stock TiTiler application (``uvicorn --factory`` wants a callable)."""
    from titiler.application.main import app

    return app


# -- data -----------------------------------------------------------------------------------

def bench_dsn(db: str = DB) -> str:
    state = Stack(StackSettings()).up(CORE)
    assert state.postgres is not None
    env = libpq_env(state.postgres.dsn)
    host, port, user, pw = env["PGHOST"], int(env["PGPORT"]), env["PGUSER"], env.get(
        "PGPASSWORD", "")
    with psycopg.connect(dsn_for(host, port, "postgres", user, pw), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
            conn.execute(f'CREATE DATABASE "{db}"')
    return dsn_for(host, port, db, user, pw)


def items(dsn: str) -> list[dict]:
    """The collection's items as pgstac's search returns them: newest first, as mosaics see."""
    search = {"collections": [LANDCOVER_COLLECTION_ID], "limit": 1000}
    with psycopg.connect(dsn) as conn:
        conn.execute("SET search_path TO pgstac, public")
        (found,) = conn.execute("SELECT search(%s::jsonb)",  # type: ignore[misc]
                                (json.dumps(search),)).fetchone()
    return [{"id": f["id"], "bbox": f["bbox"], "href": f["assets"][LANDCOVER_ASSET]["href"]}
            for f in found["features"]]


def prepare(dsn: str) -> list[dict]:
    """Generate and process the products once; later runs find them in the database."""
    migrate_pgstac(dsn)
    found = items(dsn)
    wanted = len(TILES) * len(DATES)
    if len(found) >= wanted:
        return found
    home = CACHE / "home"
    inference = InferenceSettings(model_repository=CACHE / "models")
    built(inference.model_repository, inference.default_model)
    t0 = time.perf_counter()
    for k, (tile, when) in enumerate((t, d) for t in TILES for d in DATES):
        cloud = CLOUDS[k % len(CLOUDS)]
        href = make_sample_product(tile, when, SIZE, CACHE / "products", cloud_cover=cloud)
        process_product(str(href), ingest=IngestSettings(home=home), inference=inference,
                        dsn=dsn)
        print(f"processed {k + 1}/{wanted} products ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    return items(dsn)


def mosaicjson(found: list[dict]) -> Path:
    """A MosaicJSON of the same COGs, newest first (cogeo-mosaic, titiler.application's)."""
    from cogeo_mosaic.mosaic import MosaicJSON

    path = CACHE / "mosaic.json"
    if not path.exists():
        mosaic = MosaicJSON.from_urls([i["href"] for i in found], minzoom=8, maxzoom=14,
                                      quiet=True)
        path.write_text(mosaic.model_dump_json(exclude_none=True))
    return path.resolve()


def inside(href: str) -> list[float]:
    """The COG's lon/lat bounds, shrunk by 2 %: edge tiles may fall outside the raster itself
    (a 404 from both servers), which is not what this measures."""
    from rio_tiler.io import Reader

    with Reader(href) as src:
        west, south, east, north = src.get_geographic_bounds(WMQ.rasterio_geographic_crs)
    dx, dy = (east - west) * 0.02, (north - south) * 0.02
    return [west + dx, south + dy, east - dx, north - dy]


def tiles_over(bbox: list[float], zooms: range) -> list[morecantile.Tile]:
    return [t for z in zooms for t in WMQ.tiles(*bbox, zooms=[z])]


# -- load -----------------------------------------------------------------------------------

@dataclass
class Run:
    latencies: list[float]
    wall_s: float
    errors: int

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall_s


async def _load(base: str, urls: list[str], requests: int, concurrency: int) -> Run:
    latencies: list[float] = []
    errors = 0
    queue = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            for n in queue:
                t0 = time.perf_counter()
                response = await client.get(urls[n % len(urls)])
                dt = time.perf_counter() - t0
                if response.status_code == 200 and response.content[:4] == b"\x89PNG":
                    latencies.append(dt)
                elif response.status_code != 204:  # 204: no data in this tile (valid)
                    errors += 1
                    if errors == 1:
                        print(f"  ! {response.status_code} {urls[n % len(urls)]}: "
                              f"{response.text[:300]}", flush=True)
                else:
                    latencies.append(dt)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return Run(latencies, wall, errors)


def load(base: str, urls: list[str], requests: int, concurrency: int = CONCURRENCY) -> Run:
    return asyncio.run(_load(base, urls, requests, concurrency))


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


# -- servers --------------------------------------------------------------------------------

@contextmanager
def servers(dsn: str, extra_env: dict[str, str], store: str = "") -> Iterator[tuple[str, str]]:
    env = {**libpq_env(dsn), **extra_env}
    env.setdefault("PGPASSWORD", "unused")
    ours = {**env, "EARTHSIG_TILER_ASSET_ROOTS": str((CACHE / "home").resolve()),
            "EARTHSIG_TILER_LOG_LEVEL": "warning", "EARTHSIG_TILE_STORE_URL": store}
    with uvicorn_server("tests.bench.serving:plain_titiler", env,
                        health_path="/healthz") as plain, \
            uvicorn_server("tiler.app:create_app", ours, health_path="/healthz") as tiler:
        yield plain, tiler


def store_url() -> str:
    state = Stack(StackSettings()).load()
    assert state.redis is not None
    return state.redis.url


def seed_store(dsn: str, store: str, tiler: str, item: dict, found: list[dict]) -> None:
    """Empty the bench catalog's part of the store, then draw the scenarios' tiles ahead."""
    with psycopg.connect(dsn) as conn:
        (namespace,) = conn.execute(gen.NAMESPACE_SQL).fetchone()  # type: ignore[misc]
    client = Redis.from_url(store)
    stale = list(client.scan_iter(f"{gen.PREFIX}:{namespace}:*", count=1000))
    if stale:
        client.delete(*stale)
    doc = {"collection": LANDCOVER_COLLECTION_ID, **item}
    paths = tile_paths(doc, range(11, 15), range(0))
    paths += sorted({p for i in found for p in tile_paths(
        {"collection": LANDCOVER_COLLECTION_ID, **i}, range(0), range(8, 13))})
    done = seed_tiles(tiler, paths, what="bench")
    print(f"seeded {len(paths)} tile URLs ({done.drawn} drawn, {done.empty} empty, "
          f"{done.failed} failed) in {done.seconds:.1f} s = {len(paths) / done.seconds:.1f} "
          f"tiles/s, {CONCURRENCY_SEED} at a time\n", flush=True)


def scenario(name: str, plain: str, plain_urls: list[str], tiler: str, tiler_urls: list[str],
             requests: int) -> dict[str, Run]:
    load(plain, plain_urls, 2 * CONCURRENCY)  # warm-up: imports, GDAL, pools
    load(tiler, tiler_urls, 2 * CONCURRENCY)
    runs: dict[str, list[Run]] = {"plain": [], "ours": []}
    for order in (("plain", "ours"), ("ours", "plain")):
        for who in order:
            base, urls = (plain, plain_urls) if who == "plain" else (tiler, tiler_urls)
            runs[who].append(load(base, urls, requests // 2))
    merged = {who: Run([x for r in rs for x in r.latencies], sum(r.wall_s for r in rs),
                       sum(r.errors for r in rs)) for who, rs in runs.items()}
    p, o = merged["plain"], merged["ours"]
    print(f"| {name}: plain titiler.application | {ms(p.latencies, 50):.1f} | "
          f"{ms(p.latencies, 95):.1f} | {ms(p.latencies, 99):.1f} | {p.rate:.1f} | "
          f"{p.errors} | 1.00 |", flush=True)
    print(f"| {name}: EarthSignature tiler | {ms(o.latencies, 50):.1f} | "
          f"{ms(o.latencies, 95):.1f} | {ms(o.latencies, 99):.1f} | {o.rate:.1f} | "
          f"{o.errors} | {ms(o.latencies, 95) / ms(p.latencies, 95):.2f} (p95), "
          f"{p.rate / o.rate:.2f} (1/throughput) |", flush=True)
    return merged


def scenario_wrk(name: str, plain: str, plain_urls: list[str], tiler: str,
                 tiler_urls: list[str], seconds: int) -> None:
    """As :func:`scenario`, the load from wrk: two rounds of ``seconds`` per server, in
    alternating order; percentiles are the mean of the two rounds'."""
    wrk_round(plain, plain_urls, 3, CONCURRENCY)  # warm-up
    wrk_round(tiler, tiler_urls, 3, CONCURRENCY)
    rounds: dict[str, list[WrkRound]] = {"plain": [], "ours": []}
    for order in (("plain", "ours"), ("ours", "plain")):
        for who in order:
            base, urls = (plain, plain_urls) if who == "plain" else (tiler, tiler_urls)
            rounds[who].append(wrk_round(base, urls, seconds, CONCURRENCY))

    def row(rs: list[WrkRound]) -> tuple[float, float, float, float, int]:
        rate = sum(r.requests for r in rs) / sum(r.seconds for r in rs)
        return (statistics.mean(r.p50_ms for r in rs), statistics.mean(r.p95_ms for r in rs),
                statistics.mean(r.p99_ms for r in rs), rate, sum(r.errors for r in rs))

    p, o = row(rounds["plain"]), row(rounds["ours"])
    print(f"| {name}: plain titiler.application | {p[0]:.1f} | {p[1]:.1f} | {p[2]:.1f} | "
          f"{p[3]:.1f} | {p[4]} | 1.00 |", flush=True)
    print(f"| {name}: EarthSignature tiler | {o[0]:.1f} | {o[1]:.1f} | {o[2]:.1f} | "
          f"{o[3]:.1f} | {o[4]} | {o[1] / p[1]:.2f} (p95), {p[3] / o[3]:.2f} "
          "(1/throughput) |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600, help="per server and scenario")
    parser.add_argument("--env", action="append", default=[],
                        help="KEY=VALUE for both servers (GDAL settings, pool sizes)")
    parser.add_argument("--only", choices=["item", "mosaic"], default=None)
    parser.add_argument("--prepare-only", action="store_true", help="make the data, no load")
    parser.add_argument("--client", choices=["httpx", "wrk"], default="httpx",
                        help="load generator: this process (asyncio + httpx) or wrk")
    parser.add_argument("--store", action="store_true",
                        help="our tiler with the shared tile store, the tiles seeded first")
    parser.add_argument("--seconds", type=int, default=15,
                        help="with wrk: seconds per round (two rounds per server)")
    args = parser.parse_args()
    extra = dict(e.split("=", 1) for e in args.env)

    CACHE.mkdir(parents=True, exist_ok=True)
    dsn = bench_dsn()
    found = prepare(dsn)
    if args.prepare_only:
        return
    rng = random.Random(3)
    colormap = quote(json.dumps({str(k): list(v) for k, v in clc.colormap().items()}))

    # One item (the newest over T31TCJ): its tiles from z11 to z14.
    item = next(i for i in found if "31TCJ" in i["id"])
    item_tiles = tiles_over(inside(item["href"]), range(11, 15))
    rng.shuffle(item_tiles)
    xyz = "tiles/WebMercatorQuad/{z}/{x}/{y}.png"
    item_plain = [f"/cog/{xyz.format(z=t.z, x=t.x, y=t.y)}?url={quote(item['href'])}"
                  for t in item_tiles]
    item_ours = [f"/collections/{LANDCOVER_COLLECTION_ID}/items/{item['id']}/"
                 f"{xyz.format(z=t.z, x=t.x, y=t.y)}?{TILE_QUERY}" for t in item_tiles]

    # The collection: tiles from z8 to z12 touching any product (what a map user pans over).
    mosaic_tiles = sorted({t for i in found for t in tiles_over(i["bbox"], range(8, 13))})
    rng.shuffle(mosaic_tiles)
    mosaic_tiles = mosaic_tiles[:120]
    mosaic = mosaicjson(found)
    mosaic_plain = [f"/mosaicjson/{xyz.format(z=t.z, x=t.x, y=t.y)}?url={quote(str(mosaic))}"
                    f"&colormap={colormap}" for t in mosaic_tiles]
    mosaic_ours = [f"/collections/{LANDCOVER_COLLECTION_ID}/{xyz.format(z=t.z, x=t.x, y=t.y)}"
                   f"?{TILE_QUERY}" for t in mosaic_tiles]

    amount = (f"{args.requests} requests" if args.client == "httpx"
              else f"wrk, 2 x {args.seconds} s")
    print(f"\n## Tiles, {CONCURRENCY} concurrent clients, {amount} per server and scenario, "
          f"{os.cpu_count()} cores; {len(found)} products; env {extra or '-'}; "
          f"tile store {'on, seeded' if args.store else 'off'}\n")
    print(f"item: {len(item_tiles)} tiles z11-z14 of {item['id']}; mosaic: "
          f"{len(mosaic_tiles)} tiles z8-z12\n")
    print("| scenario | p50 ms | p95 ms | p99 ms | tiles/s | errors | x plain |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    store = store_url() if args.store else ""
    with servers(dsn, extra, store) as (plain, tiler):
        if store:
            seed_store(dsn, store, tiler, item, found)
        for what, urls in (("item z11-14", (item_plain, item_ours)),
                           ("mosaic z8-12", (mosaic_plain, mosaic_ours))):
            if args.only not in (None, what.split()[0]):
                continue
            if args.client == "wrk":
                scenario_wrk(what, plain, urls[0], tiler, urls[1], args.seconds)
            else:
                scenario(what, plain, urls[0], tiler, urls[1], args.requests)


if __name__ == "__main__":
    main()
