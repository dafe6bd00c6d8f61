"""Catalog at scale: N landcover items in pgstac, then search latency through the STAC API
against pgstac's own ``search()`` SQL function, with the same queries, in the same run.

Items have the pipeline's real shape (``catalog_schemas.items.landcover_item`` builds one
template; each generated item changes its id, footprint, time, links, asset hrefs and ``clc:*``
statistics), spread over the Sentinel-2 MGRS tiles that touch Europe's land and three years.
They are loaded with pypgstac's ``Loader`` (COPY into the collection's partition) into a
database of their own, ``earthsig_bench_catalog_n<N>``, once: a later run with the same N
reuses it, an interrupted load resumes at the last committed chunk.

Searches: bbox (a region of about 1-2 degrees) + a one-to-three-month window + a land-cover
category (``categories=``, as users write it), first page of 10. The API runs as a uvicorn
process on loopback; the raw baseline is ``SELECT pgstac.search(<same search as JSON>)`` on one
psycopg connection (what the API's pool calls, without HTTP or the API's own work).

Run: ``python -m tests.bench.catalog --items 1000000`` (long; progress is printed).
``--compare LABEL=db:NAME`` / ``LABEL=tuned[:NAME]`` measure other databases of the same items
(e.g. a copy kept unpartitioned) or a role with the owned cluster's session settings in the
same run, query by query; ``LABEL=env:KEY=VALUE[,KEY=VALUE]`` the same database through an API
started with more environment (e.g. ``USE_API_HYDRATE=true``); ``--as-loaded`` keeps an
existing database's collection as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import numpy as np
import psycopg
from psycopg_pool import ConnectionPool
from pypgstac.db import PgstacDB
from pypgstac.load import Loader, Methods

from catalog_schemas.collections import LANDCOVER_COLLECTION_ID, landcover_collection
from infra.postgres import SERVER_SETTINGS, SESSION_SETTINGS, dsn_for, libpq_env, migrate_pgstac
from infra.settings import StackSettings
from infra.stack import CORE, Stack
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.queryables import Queryables
from ingest.catalog.register import ensure_collection
from stac_api import categories, filters
from tests.bench.catalog_items import (
    CATEGORIES,
    CHUNK,
    SPAN,
    START,
    YEARS,
    ItemFactory,
    Tiles,
    europe_tiles,
)
from tests.servers import uvicorn_server

META = """CREATE TABLE IF NOT EXISTS public.earthsig_bench_load (
    n bigint PRIMARY KEY, chunks_done int NOT NULL, load_s double precision NOT NULL)"""


def bench_database(n: int, name: str | None = None, as_loaded: bool = False) -> str:
    """``earthsig_bench_catalog_n<N>`` on the stack's PostgreSQL, created and migrated once.

    ``name`` picks another database (e.g. a copy kept as it was before a change); with
    ``as_loaded`` an existing collection is left as it is, not brought up to the current
    definition (which may repartition it).
    """
    state = Stack(StackSettings()).up(CORE)
    assert state.postgres is not None
    env = libpq_env(state.postgres.dsn)
    name = name or f"earthsig_bench_catalog_n{n}"
    admin = dsn_for(env["PGHOST"], int(env["PGPORT"]), "postgres", env["PGUSER"],
                    env.get("PGPASSWORD", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    dsn = dsn_for(env["PGHOST"], int(env["PGPORT"]), name, env["PGUSER"],
                  env.get("PGPASSWORD", ""))
    migrate_pgstac(dsn)
    with pgstac_session(dsn) as db:
        present = list(db.query("SELECT 1 FROM collections WHERE id = %s",
                                [LANDCOVER_COLLECTION_ID]))
        if not (as_loaded and present and present[0]):
            # The collection, its partitioning and its queryables (and their indexes).
            ensure_collection(db, landcover_collection(), Queryables.landcover())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(META)
    return dsn


def load(dsn: str, n: int, tiles: Tiles) -> tuple[float, int]:
    """Load the N items (resuming); return the load's seconds (all runs) and chunks done."""
    factory = ItemFactory(n, tiles)
    chunks = -(-n // CHUNK)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT chunks_done, load_s FROM earthsig_bench_load WHERE n = %s",
                           (n,)).fetchone()
        done, load_s = (row[0], row[1]) if row else (0, 0.0)
        if done >= chunks:
            return load_s, done
        # Items of an interrupted chunk: they are the ones at or after its first time.
        conn.execute("SET search_path TO pgstac, public")
        cut = factory.time_of(done * CHUNK)
        deleted = conn.execute("DELETE FROM items WHERE collection = %s AND datetime >= %s",
                               (LANDCOVER_COLLECTION_ID, cut)).rowcount
        if done or deleted:
            print(f"resuming at chunk {done}/{chunks} (removed {deleted} items of an "
                  "interrupted chunk)", flush=True)
    with ConnectionPool(dsn, min_size=1, max_size=1, open=True) as pool, \
            PgstacDB(pool=pool) as db:
        loader = Loader(db)
        run_t0 = time.perf_counter()
        for c in range(done, chunks):
            t0 = time.perf_counter()
            items = factory.chunk(c * CHUNK, min(n, (c + 1) * CHUNK))
            loader.load_items(items, Methods.insert, chunksize=CHUNK)
            dt = time.perf_counter() - t0
            load_s += dt
            db.connect().execute(
                "INSERT INTO public.earthsig_bench_load VALUES (%s, %s, %s) ON CONFLICT (n) "
                "DO UPDATE SET chunks_done = excluded.chunks_done, load_s = excluded.load_s",
                (n, c + 1, load_s))
            db.connect().commit()
            loaded = min(n, (c + 1) * CHUNK)
            rate = (loaded - done * CHUNK) / (time.perf_counter() - run_t0)
            eta = (n - loaded) / rate if rate else 0
            print(f"loaded {loaded:>9,}/{n:,} items  {CHUNK / dt:,.0f} items/s (chunk), "
                  f"{rate:,.0f} items/s (run)  ETA {eta / 60:.1f} min", flush=True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        print("VACUUM ANALYZE ...", flush=True)
        conn.execute("VACUUM ANALYZE pgstac.items")
    return load_s, chunks


def database_size(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT pg_database_size(current_database()), "
                           "(SELECT count(*) FROM pgstac.items)").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


# -- the searches ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    bbox: list[float]
    datetime: str
    category: str

    def params(self) -> dict[str, str]:
        return {"collections": LANDCOVER_COLLECTION_ID, "bbox": ",".join(map(str, self.bbox)),
                "datetime": self.datetime, "categories": self.category, "limit": "10"}

    def search(self) -> dict[str, Any]:
        """The search the API hands pgstac for ``params()`` (categories as CQL2-JSON)."""
        cql = filters.normalise(categories.category_filter([self.category], None))
        return {"collections": [LANDCOVER_COLLECTION_ID], "bbox": self.bbox,
                "datetime": self.datetime, "filter": cql, "filter-lang": "cql2-json",
                "limit": 10}


def queries(count: int, tiles: Tiles, seed: int = 5) -> list[Query]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        west, south, east, north = tiles.bboxes[rng.integers(len(tiles.ids))]
        cx, cy = (west + east) / 2, (south + north) / 2
        half = rng.uniform(0.5, 1.0)
        bbox = [round(cx - half, 4), round(cy - half / 2, 4), round(cx + half, 4),
                round(cy + half / 2, 4)]
        begin = START + timedelta(days=float(rng.uniform(0, SPAN.days - 100)))
        end = begin + timedelta(days=int(rng.integers(30, 92)))
        window = f"{begin:%Y-%m-%dT00:00:00Z}/{end:%Y-%m-%dT23:59:59Z}"
        out.append(Query(bbox, window, str(rng.choice(CATEGORIES))))
    return out


def time_raw(conn: psycopg.Connection, query: Query) -> tuple[float, int]:
    body = json.dumps(query.search())
    t0 = time.perf_counter()
    (result,) = conn.execute("SELECT pgstac.search(%s::jsonb)", (body,)).fetchone()  # type: ignore[misc]
    return time.perf_counter() - t0, len(result["features"])


def time_api(client: httpx.Client, query: Query) -> tuple[float, int]:
    t0 = time.perf_counter()
    response = client.get("/search", params=query.params())
    dt = time.perf_counter() - t0
    if response.status_code != 200:
        raise RuntimeError(f"API answered {response.status_code}: {response.text[:500]}")
    return dt, len(response.json()["features"])


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


@dataclass(frozen=True)
class Variant:
    """One way of serving the same items: a database, and a role whose settings apply."""

    label: str
    dsn: str
    api_env: dict[str, str] = field(default_factory=dict)  # more environment for its API


def measure(variants: list[tuple[Variant, str]], qs: list[Query],
            warmup: int) -> dict[str, dict[str, list[float]]]:
    """Per variant (with its API's URL): raw and API seconds of each query after warm-up.

    Each query is sent both ways to every variant before the next query, in an order that
    rotates, so that a change of machine load or of cache state falls on all of them alike.
    """
    found: dict[str, dict[str, list[float]]] = {v.label: {"raw": [], "api": []}
                                                for v, _ in variants}
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(psycopg.connect(v.dsn, autocommit=True))
                 for v, _ in variants]
        clients = [stack.enter_context(httpx.Client(base_url=api, timeout=60))
                   for _, api in variants]
        for conn in conns:
            conn.execute("SET search_path TO pgstac, public")  # what the API's pool sets too
        steps = [(i, way) for i in range(len(variants)) for way in ("raw", "api")]
        for k, q in enumerate(qs):
            counts: dict[tuple[int, str], int] = {}
            times: dict[tuple[int, str], float] = {}
            shift = k % len(steps)
            for i, way in steps[shift:] + steps[:shift]:
                t, n = time_raw(conns[i], q) if way == "raw" else time_api(clients[i], q)
                times[(i, way)], counts[(i, way)] = t, n
            if len(set(counts.values())) != 1:
                raise RuntimeError(f"item counts differ ({counts}) for {q}")
            if k >= warmup:
                for (i, way), t in times.items():
                    found[variants[i][0].label][way].append(t)
    return found


def api_env(dsn: str) -> dict[str, str]:
    env = libpq_env(dsn)
    env.setdefault("PGPASSWORD", "unused")  # upstream requires one even under trust auth
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--database", help="database name (default earthsig_bench_catalog_n<N>)")
    parser.add_argument("--as-loaded", action="store_true",
                        help="measure an existing database's collection as it is, without "
                             "applying the current collection definition")
    parser.add_argument("--label", default="as configured",
                        help="name of the main database's variant in the table")
    parser.add_argument("--compare", action="append", default=[], metavar="LABEL=WHAT",
                        help="also measure, interleaved, LABEL=db:NAME (another database of "
                             "the same items, as loaded) or LABEL=tuned[:NAME] (the main or "
                             "that database through a role with infra.postgres's session "
                             "settings)")
    args = parser.parse_args()

    tiles = europe_tiles()
    print(f"{len(tiles.ids)} MGRS tiles over Europe, {YEARS} years from {START:%Y-%m-%d}",
          flush=True)
    dsn = bench_database(args.items, args.database, args.as_loaded)
    load_s, _ = load(dsn, args.items, tiles)
    size, count = database_size(dsn)
    if count != args.items:
        sys.exit(f"the database holds {count} items, not {args.items}: drop it and rerun")
    print(f"\n{count:,} items, loaded in {load_s:.0f} s ({count / load_s:,.0f} items/s, "
          f"{load_s * 1e6 / count / 60:.1f} min per million); database "
          f"{size / 2**30:.2f} GiB ({size / 2**30 * 1e6 / count:.2f} GiB per million)")
    if args.load_only:
        return

    variants = [Variant(args.label, dsn)]
    for spec in args.compare:
        variants.append(compare_variant(spec, dsn, args.items))
    qs = queries(args.queries + args.warmup, tiles)
    with contextlib.ExitStack() as stack:
        served = [(v, stack.enter_context(uvicorn_server(
            "stac_api.app:create_app", {**api_env(v.dsn), **v.api_env},
            health_path="/_mgmt/ping")))
            for v in variants]
        found = measure(served, qs, args.warmup)
    base = found[variants[0].label]["raw"]
    print(f"\n## Search at {count:,} items: bbox + datetime + category, first page of 10, "
          f"{len(base)} queries (+{args.warmup} warm-up), one client\n")
    print("| variant | path | p50 ms | p95 ms | mean ms | x own raw (p50) | x own raw (p95) | "
          f"x {variants[0].label} raw (p95) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for v in variants:
        raw, via_api = found[v.label]["raw"], found[v.label]["api"]
        for name, values in (("pgstac `search()` SQL", raw), ("STAC API GET /search", via_api)):
            print(f"| {v.label} | {name} | {pct(values, 50):.1f} | {pct(values, 95):.1f} | "
                  f"{statistics.mean(values) * 1000:.1f} | {pct(values, 50) / pct(raw, 50):.2f} | "
                  f"{pct(values, 95) / pct(raw, 95):.2f} | {pct(values, 95) / pct(base, 95):.2f} |")


def compare_variant(spec: str, dsn: str, n: int) -> Variant:
    """``LABEL=db:NAME`` (another database, as loaded), ``LABEL=tuned[:NAME]`` (this or that
    database through a role carrying infra.postgres's session-settable SERVER_SETTINGS) or
    ``LABEL=env:KEY=VALUE,...`` (this database, its API started with that environment)."""
    label, _, what = spec.partition("=")
    kind, _, name = what.partition(":")
    if kind == "env" and "=" in name:
        return Variant(label, dsn, dict(pair.split("=", 1) for pair in name.split(",")))
    if kind == "db" and name:
        return Variant(label, bench_database(n, name, as_loaded=True))
    if kind == "tuned":
        return Variant(label, tuned_role_dsn(bench_database(n, name, as_loaded=True)
                                             if name else dsn))
    raise SystemExit(f"--compare {spec!r}: expected LABEL=db:NAME, LABEL=tuned[:NAME] or "
                     "LABEL=env:KEY=VALUE[,KEY=VALUE]")


TUNED_ROLE = "earthsig_bench_tuned"


def tuned_role_dsn(dsn: str) -> str:
    """A login role on ``dsn``'s database with the session-settable tuned settings."""
    env = libpq_env(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                            (TUNED_ROLE,)).fetchone():
            conn.execute(f"CREATE ROLE {TUNED_ROLE} LOGIN IN ROLE pgstac_admin")
        for name in SESSION_SETTINGS:
            conn.execute(f"ALTER ROLE {TUNED_ROLE} IN DATABASE \"{env['PGDATABASE']}\" "
                         f"SET {name} = '{SERVER_SETTINGS[name]}'")
    return dsn_for(env["PGHOST"], int(env["PGPORT"]), env["PGDATABASE"], TUNED_ROLE,
                   env.get("PGPASSWORD", ""))

if __name__ == "__main__":
    main()
