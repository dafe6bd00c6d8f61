"""CPU per tile, in process: our tiler against plain ``titiler.application`` on the same tiles.

No HTTP server, no concurrency, no cache: each app is driven by Starlette's TestClient over the
serving bench's item tiles (z11-z14 of one product, ``tests/bench/serving.py``'s data), the
tile cache off, a warm-up pass first. What is left is the cost of drawing one tile, where the
two servers' code differs; profile either with ``py-spy record -- python -m
tests.bench.tile_cost --only ours``.

Run: ``python -m tests.bench.tile_cost`` (after ``python -m tests.bench.serving
--prepare-only``).
"""

from __future__ import annotations

import argparse
import os
import time
from urllib.parse import quote

from fastapi.testclient import TestClient

from infra.endpoints import TILE_QUERY
from infra.postgres import libpq_env
from tests.bench import serving

XYZ = "tiles/WebMercatorQuad/{z}/{x}/{y}.png"


def per_tile_ms(client: TestClient, urls: list[str], rounds: int) -> tuple[float, float]:
    """(wall, CPU) milliseconds per tile over ``rounds`` passes, after one warm-up pass."""
    for url in urls:
        assert client.get(url).status_code == 200, url
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for url in urls:
            assert client.get(url).status_code == 200, url
    n = rounds * len(urls)
    return ((time.perf_counter() - wall0) / n * 1000, (time.process_time() - cpu0) / n * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["plain", "ours"], default=None)
    args = parser.parse_args()

    dsn = serving.bench_dsn()
    found = serving.items(dsn)
    os.environ.update(libpq_env(dsn))
    os.environ.setdefault("PGPASSWORD", "unused")
    os.environ["EARTHSIG_TILER_ASSET_ROOTS"] = str((serving.CACHE / "home").resolve())
    os.environ["EARTHSIG_TILER_TILE_CACHE_TTL"] = "0"
    os.environ["EARTHSIG_TILE_STORE_URL"] = ""
    from tiler.app import create_app

    item = next(i for i in found if "31TCJ" in i["id"])
    tiles = serving.tiles_over(serving.inside(item["href"]), range(11, 15))
    urls = {
        "plain": [f"/cog/{XYZ.format(z=t.z, x=t.x, y=t.y)}?url={quote(item['href'])}"
                  for t in tiles],
        "ours": [f"/collections/landcover/items/{item['id']}/{XYZ.format(z=t.z, x=t.x, y=t.y)}"
                 f"?{TILE_QUERY}" for t in tiles],
    }
    apps = {"plain": serving.plain_titiler, "ours": create_app}
    print(f"\n## CPU per tile, in process: {len(tiles)} tiles z11-z14 x {args.rounds} rounds\n")
    print("| server | wall ms/tile | CPU ms/tile | x plain (CPU) |")
    print("|---|---:|---:|---:|")
    base = None
    for who in ("plain", "ours"):
        if args.only not in (None, who):
            continue
        with TestClient(apps[who]()) as client:
            wall, cpu = per_tile_ms(client, urls[who], args.rounds)
        base = base or cpu
        print(f"| {who} | {wall:.2f} | {cpu:.2f} | {cpu / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
