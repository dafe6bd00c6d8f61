"""Load: concurrent clients on the real API and tiler processes while a real worker ingests.

``EARTHSIG_LOAD_CLIENTS`` clients (50) send tiles, searches and item reads on loopback for
``EARTHSIG_LOAD_SECONDS`` (15 s in the suite; ``make test-load`` runs 60 s) to uvicorn processes
of the STAC API and the tiler, while an RQ worker process ingests more generated products. Every
request must succeed (0 errors); latencies (p50/p95 per kind) and the resident memory of the
API and tiler processes (sampled every second) are printed, and memory must not grow past a
tolerance between the end of the warm-up and the end of the run. Set ``EARTHSIG_LOAD_REPORT``
to a path to get the figures as JSON (docs/reliability.md, "Load").
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import morecantile
import pytest

from infra.postgres import libpq_env
from samples import make_sample_product
from stac_api.settings import LimitSettings
from tests.models import built
from tests.servers import uvicorn_server
from tiler.settings import TilerSettings

SECONDS = float(os.environ.get("EARTHSIG_LOAD_SECONDS", "15"))
CLIENTS = int(os.environ.get("EARTHSIG_LOAD_CLIENTS", "50"))
SIZE = 512  # pixels a side of each generated product: small, the load is on the servers
# The last one lands on the first product's place, newer and twice as wide: the mosaic tiles
# the clients ask for (which reach past the first product's edge) change under them.
DURING_LOAD = [("T31TDJ", date(2024, 7, 2), SIZE), ("T31TEJ", date(2024, 7, 3), SIZE),
               ("T31TFJ", date(2024, 7, 4), SIZE), ("T31TCJ", date(2024, 7, 5), 2 * SIZE)]
WARM_UP = 0.25  # share of the run, from the first answer, after which memory is the baseline
# Allowed memory growth from the end of the warm-up to the end of the run: GDAL's block cache
# and Python's allocator still settle after the warm-up; a leak per request grows without end.
RSS_GROWTH = 0.25
RSS_SLACK_MB = 40.0
TILE_QUERY = "assets=landcover&colormap_name=clc"
WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")


# The budgets as shipped (the suite lifts them, tests/conftest.py): each load client is a
# client address of its own (X-Forwarded-For, which uvicorn trusts from 127.0.0.1).
SHIPPED_BUDGETS = {
    **{f"EARTHSIG_API_RATE_{k.upper()}": str(LimitSettings.model_fields[f"rate_{k}"].default)
       for k in ("read", "search", "write")},
    **{f"EARTHSIG_TILER_RATE_{k.upper()}": str(TilerSettings.model_fields[f"rate_{k}"].default)
       for k in ("read", "write")},
}
ATTACKERS = 5  # tests/e2e/attackers.py


@dataclass
class Served:
    api: str
    tiler: str
    pids: dict[str, int]
    env: dict[str, str]
    item_id: str
    bbox: list[float]
    queued: list[Path]


@dataclass
class Figures:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    rss_mb: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    first_answer: float | None = None  # time.monotonic() of the load's first answer


def _earthsig(env: dict[str, str], *args: str, timeout: float = 600
              ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def _pid_on_port(port: int) -> int:
    """The uvicorn process serving ``port`` (tests.servers does not expose it)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"uvicorn" in argv and b"--port" in argv and str(port).encode() in argv:
            return int(proc.name)
    raise LookupError(f"no uvicorn process on port {port}")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmRSS for {pid}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, module_pgstac_dsn: str,
           module_redis_url: str) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("home")
    first = make_sample_product("T31TCJ", date(2024, 7, 1), SIZE, home / "samples", seed=1)
    queued = [make_sample_product(tile, day, size, home / "samples", seed=i + 2)
              for i, (tile, day, size) in enumerate(DURING_LOAD)]
    # As the stack runs it: the tiler keeps tiles in Redis, the worker's registrations during
    # the load mark what they change there.
    env = {**libpq_env(module_pgstac_dsn), "EARTHSIG_REDIS_URL": module_redis_url,
           "EARTHSIG_HOME": str(home), "EARTHSIG_RATE_LIMIT_URL": module_redis_url,
           **SHIPPED_BUDGETS,
           "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(built(home / "m")),
           "EARTHSIG_TILE_STORE_URL": module_redis_url}
    worker_log = (home / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "infra", "worker", "--name", "load-worker"],
                              env={**os.environ, **env}, stdout=worker_log,
                              stderr=subprocess.STDOUT)
    try:
        done = _earthsig(env, "process", str(first), "--wait")
        assert done.returncode == 0, done.stderr + (home / "worker.log").read_text()
        item_id = done.stdout.strip().splitlines()[-1]
        with uvicorn_server("stac_api.app:create_app", env) as api, \
                uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as tiler:
            item = httpx.get(f"{api}/collections/landcover/items/{item_id}", timeout=30).json()
            pids = {name: _pid_on_port(int(url.rsplit(":", 1)[1]))
                    for name, url in (("api", api), ("tiler", tiler))}
            yield Served(api, tiler, pids, env, item_id, item["bbox"], queued)
    finally:
        worker.terminate()
        worker.wait(30)
        worker_log.close()


def _tiles(bbox: list[float]) -> list[morecantile.Tile]:
    """Tiles at zooms 12-14 whose centre lies inside the item's bbox."""
    west, south, east, north = bbox
    found = []
    for tile in WEB_MERCATOR.tiles(west, south, east, north, zooms=[12, 13, 14]):
        b = WEB_MERCATOR.bounds(tile)
        lon, lat = (b.left + b.right) / 2, (b.bottom + b.top) / 2
        if west < lon < east and south < lat < north:
            found.append(tile)
    return found


def _requests(s: Served) -> list[tuple[str, str, str, dict | None]]:
    """(kind, method, URL, JSON body) of the request mix."""
    west, south, east, north = s.bbox
    tiles = _tiles(s.bbox)
    assert tiles, "the item covers no whole tile at zoom 12-14"
    mix: list[tuple[str, str, str, dict | None]] = []
    for t in tiles:
        mix.append(("tile", "GET", f"{s.tiler}/collections/landcover/tiles/WebMercatorQuad/"
                                   f"{t.z}/{t.x}/{t.y}.png?{TILE_QUERY}", None))
        mix.append(("tile", "GET", f"{s.tiler}/collections/landcover/items/{s.item_id}/tiles/"
                                   f"WebMercatorQuad/{t.z}/{t.x}/{t.y}.png?{TILE_QUERY}", None))
    bbox = f"{west},{south},{east},{north}"
    mix += [
        ("search", "GET", f"{s.api}/search?collections=landcover&bbox={bbox}&limit=10", None),
        ("search", "GET", f"{s.api}/search?categories=Forests,Water%20bodies", None),
        ("search", "GET", f"{s.api}/search?filter=clc:valid_fraction%20%3E%3D%200.1"
                          "&sortby=-datetime", None),
        ("search", "POST", f"{s.api}/search", {"collections": ["landcover"], "limit": 5,
                                               "datetime": "2024-06-01T00:00:00Z/.."}),
        ("search", "GET", f"{s.api}/collections/landcover/items?limit=5", None),
        ("item", "GET", f"{s.api}/collections/landcover/items/{s.item_id}", None),
        ("item", "GET", f"{s.api}/collections/landcover", None),
    ]
    return mix


# Share of requests per kind (the tiles of a map view, its searches, the items clicked).
KIND_WEIGHTS = {"tile": 0.5, "search": 0.3, "item": 0.2}


async def _client(n: int, mix: list, deadline: float, figures: Figures) -> None:
    rng = random.Random(n)  # each client its own, reproducible, sequence
    by_kind: dict[str, list] = {}
    for request in mix:
        by_kind.setdefault(request[0], []).append(request)
    kinds = list(KIND_WEIGHTS)
    weights = [KIND_WEIGHTS[k] for k in kinds]
    # Idle connections are dropped well before uvicorn's 5 s keep-alive timeout: reusing one
    # the server is closing at that instant is a client-side race, not a server error.
    limits = httpx.Limits(keepalive_expiry=2.0)
    address = {"X-Forwarded-For": f"10.50.{n // 250}.{n % 250 + 1}"}
    async with httpx.AsyncClient(timeout=60, limits=limits, headers=address) as client:
        while time.monotonic() < deadline:
            kind, method, url, body = rng.choice(by_kind[rng.choices(kinds, weights)[0]])
            started = time.perf_counter()
            try:
                response = await client.request(method, url, json=body)
            except httpx.HTTPError as e:
                figures.errors.append(f"{method} {url}: {type(e).__name__} {e}")
                continue
            figures.latencies.setdefault(kind, []).append(time.perf_counter() - started)
            if figures.first_answer is None:
                figures.first_answer = time.monotonic()
            figures.statuses[response.status_code] += 1
            if response.status_code != 200:
                figures.errors.append(f"{method} {url}: {response.status_code} "
                                      f"{response.text[:200]}")


def _sample_rss(pids: dict[str, int], start: float, stop: threading.Event,
                figures: Figures) -> None:
    """Every second until ``stop``, then once more: in a thread, so that the clients' busy
    event loop cannot hold a sample back (it once did for 5.7 s, and the "after warm-up"
    reading was taken before the load had begun)."""
    while True:
        now = time.monotonic()
        for name, pid in pids.items():
            figures.rss_mb.setdefault(name, []).append((now - start, _rss_mb(pid)))
        if stop.is_set():
            return
        stop.wait(1.0)


async def _run(s: Served, figures: Figures) -> float:
    """The load; returns when (seconds after its start) the first answer came."""
    mix = _requests(s)
    start = time.monotonic()
    deadline = start + SECONDS
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_rss, args=(s.pids, start, stop, figures))
    sampler.start()
    try:
        await asyncio.gather(*(_client(n, mix, deadline, figures) for n in range(CLIENTS)))
    finally:
        stop.set()
        sampler.join()
    return (figures.first_answer or start) - start


async def _normal_clients(s: Served, clients: int, figures: Figures) -> None:
    mix = _requests(s)
    deadline = time.monotonic() + SECONDS
    await asyncio.gather(*(_client(n, mix, deadline, figures) for n in range(clients)))


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def _baseline_and_end(samples: list[tuple[float, float]], loaded_from: float
                      ) -> tuple[float, float]:
    """(the first reading ``WARM_UP`` of the run after the load's first answer, the last)."""
    warm = loaded_from + WARM_UP * SECONDS
    after_warm_up = [mb for t, mb in samples if t >= warm] or [samples[-1][1]]
    return after_warm_up[0], samples[-1][1]


def _registered(api: str) -> int:
    body = httpx.get(f"{api}/collections/landcover/items?limit=100", timeout=30).json()
    return len(body["features"])


def test_clients_get_answers_while_workers_ingest(served: Served) -> None:
    tiles = [url for kind, _, url, _ in _requests(served) if kind == "tile"]
    before = {url: httpx.get(url, timeout=60).content for url in tiles}  # now in the store
    for product in served.queued:  # ingested by the worker while the clients run
        queued = _earthsig(served.env, "process", str(product))
        assert queued.returncode == 0, queued.stderr
    figures = Figures()
    loaded_from = asyncio.run(_run(served, figures))
    # The products queued before the load are ingested (during it, or just after on a slow box).
    deadline = time.monotonic() + 600
    while _registered(served.api) < 1 + len(served.queued) and time.monotonic() < deadline:
        time.sleep(2)
    ingested = _registered(served.api) - 1

    every = [x for values in figures.latencies.values() for x in values]
    report = {
        "seconds": SECONDS, "clients": CLIENTS, "requests": len(every),
        "errors": len(figures.errors), "requests_per_s": round(len(every) / SECONDS, 1),
        "p50_ms": round(1000 * _percentile(every, 50), 1),
        "p95_ms": round(1000 * _percentile(every, 95), 1),
        "by_kind": {kind: {"requests": len(v), "p50_ms": round(1000 * _percentile(v, 50), 1),
                           "p95_ms": round(1000 * _percentile(v, 95), 1)}
                    for kind, v in sorted(figures.latencies.items())},
        "rss_mb": {name: {"first": round(samples[0][1], 1),
                          "after_warm_up": round(_baseline_and_end(samples, loaded_from)[0], 1),
                          "end": round(samples[-1][1], 1),
                          "max": round(max(mb for _, mb in samples), 1)}
                   for name, samples in figures.rss_mb.items()},
        "products_ingested": ingested,
    }
    print(json.dumps(report, indent=1))
    if os.environ.get("EARTHSIG_LOAD_REPORT"):
        Path(os.environ["EARTHSIG_LOAD_REPORT"]).write_text(json.dumps(report, indent=1) + "\n")

    assert not figures.errors, f"{len(figures.errors)} errors, e.g.\n" + "\n".join(
        figures.errors[:10])
    assert ingested == len(served.queued)
    # No tile kept from before a registration: each stored tile equals one drawn now (another
    # query parameter is another key, hence a fresh draw), and some did change.
    changed = 0
    for url in tiles:
        stored, fresh = httpx.get(url, timeout=60), httpx.get(f"{url}&fresh=1", timeout=60)
        assert stored.status_code == fresh.status_code == 200, url
        assert stored.headers["x-tile-cache"] == "hit" and fresh.headers["x-tile-cache"] == "miss"
        assert stored.content == fresh.content, url
        changed += stored.content != before[url]
    assert changed > 0
    for name, samples in figures.rss_mb.items():
        baseline, end = _baseline_and_end(samples, loaded_from)
        assert end <= baseline * (1 + RSS_GROWTH) + RSS_SLACK_MB, (name, samples)


def _p95_ms(figures: Figures) -> dict[str, float]:
    every = [x for values in figures.latencies.values() for x in values]
    return {"all": round(1000 * _percentile(every, 95), 1),
            **{kind: round(1000 * _percentile(v, 95), 1)
               for kind, v in sorted(figures.latencies.items())}}


def _pooled(*phases: Figures) -> Figures:
    pooled = Figures()
    for figures in phases:
        for kind, values in figures.latencies.items():
            pooled.latencies.setdefault(kind, []).extend(values)
    return pooled


def test_attackers_do_not_hold_normal_clients(served: Served, tmp_path: Path) -> None:
    """45 normal clients alone, then beside 5 attackers (tests/e2e/attackers.py), then alone
    again, each phase ``EARTHSIG_LOAD_SECONDS``: the normal clients get no error, every
    refusal an attacker gets names its limit; the p95s are printed (docs/reliability.md), not
    asserted (no timed assertions): beside the attackers against both alone phases together
    (a machine whose load drifts during the run moves both sides alike), and the two alone
    phases against each other, which says how much of a ratio is noise."""
    normal = CLIENTS - ATTACKERS
    # Every request of the mix once first: every phase finds the tiles in the store (else the
    # first phase draws them, and looks slower than the others).
    for _, method, url, body in _requests(served):
        assert httpx.request(method, url, json=body, timeout=60).status_code == 200, url
    before, beside, after = Figures(), Figures(), Figures()
    asyncio.run(_normal_clients(served, normal, before))
    out = tmp_path / "attacks.json"
    attackers = subprocess.Popen([sys.executable, "-m", "tests.e2e.attackers", served.api,
                                  served.tiler, str(SECONDS), str(out)],
                                 env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        asyncio.run(_normal_clients(served, normal, beside))
        assert attackers.wait(SECONDS + 60) == 0
    finally:
        attackers.kill()
        attackers.wait()
    asyncio.run(_normal_clients(served, normal, after))
    attacks = json.loads(out.read_text())
    alone = _pooled(before, after)
    p95_alone, p95_beside = _p95_ms(alone), _p95_ms(beside)
    p95_before, p95_after = _p95_ms(before), _p95_ms(after)
    report = {"seconds": SECONDS, "normal_clients": normal, "attackers": ATTACKERS,
              "requests": {"alone_before": sum(map(len, before.latencies.values())),
                           "beside_attackers": sum(map(len, beside.latencies.values())),
                           "alone_after": sum(map(len, after.latencies.values()))},
              "p95_ms_alone_before": p95_before, "p95_ms_beside_attackers": p95_beside,
              "p95_ms_alone_after": p95_after,
              "p95_ratio": {k: round(p95_beside[k] / p95_alone[k], 2) for k in p95_alone},
              "p95_ratio_alone_after_to_before": {
                  k: round(p95_after[k] / p95_before[k], 2) for k in p95_before},
              "attacks": attacks}
    print(json.dumps(report, indent=1))
    if os.environ.get("EARTHSIG_LOAD_REPORT"):
        path = Path(os.environ["EARTHSIG_LOAD_REPORT"])
        path.with_name(f"{path.stem}-attackers{path.suffix}").write_text(
            json.dumps(report, indent=1) + "\n")

    for figures in (before, beside, after):
        assert not figures.errors, f"{len(figures.errors)} errors, e.g.\n" + "\n".join(
            figures.errors[:10])
    assert not attacks.get("unnamed_refusals"), attacks
    # Each attack was refused as it should be (past its budget, a search is a 429 unread).
    assert attacks["oversized_bodies"].get("413") and attacks["oversized_bodies"].keys() <= {
        "413", "429", "dropped"}, attacks
    for searches in ("huge_polygons", "many_ids"):
        assert attacks[searches].get("400") and attacks[searches].keys() <= {"400", "429"}, (
            attacks)
    assert attacks["slow_bodies"].get("408"), attacks
    assert attacks["registration_flood"].get("429"), attacks
