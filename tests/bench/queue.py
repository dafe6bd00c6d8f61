"""``make bench`` (queue): products/hour through the RQ stages with 1, 2 and 4 workers.

Baseline in the same run: the same products processed one after another in this process,
without the queue. The model is the default one (``InferenceSettings.default_model``: the real
clc-dynamicworld) on its in-process runtime. Small products (the default 256 px) show the
queue's overhead against the work; ``--size 1024`` lets the model's time dominate, as it does
for a full tile.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
from redis import Redis

from inference.settings import InferenceSettings
from infra.postgres import dsn_for, libpq_env, migrate_pgstac
from infra.settings import StackSettings
from infra.stack import CORE, Stack
from ingest.orchestration.queue import enqueue_product, wait_for
from ingest.pipeline import process_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.bench.machine import cpu_description
from tests.models import built

BENCH_DB = "earthsig_bench_queue"
REDIS_DB = 9


def fresh_database(admin_env: dict[str, str], name: str = BENCH_DB) -> str:
    admin = dsn_for(admin_env["PGHOST"], int(admin_env["PGPORT"]), "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = dsn_for(admin_env["PGHOST"], int(admin_env["PGPORT"]), name)
    migrate_pgstac(dsn)
    return dsn


def through_queue(hrefs: list[str], workers: int, home: Path, redis_url: str,
                  dsn: str) -> float:
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    env = {**os.environ, **libpq_env(dsn), "EARTHSIG_REDIS_URL": redis_url,
           "EARTHSIG_HOME": str(home), "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(home / "m")}
    procs = [subprocess.Popen([sys.executable, "-m", "infra", "worker", "--name", f"b{i}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i in range(workers)]
    try:
        time.sleep(2)  # workers up before the clock starts
        ingest = IngestSettings(home=home, redis_url=redis_url)
        inference = InferenceSettings(model_repository=home / "m")
        t0 = time.perf_counter()
        jobs = [enqueue_product(h, None, connection=redis, ingest=ingest, inference=inference,
                                force=True) for h in hrefs]
        for job in jobs:
            wait_for(job.job_id, connection=redis, timeout_s=900, poll_s=0.05)
        return time.perf_counter() - t0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=12)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    state = Stack(StackSettings()).up(CORE)
    assert state.postgres and state.redis
    redis_url = state.redis.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    with tempfile.TemporaryDirectory(prefix="earthsig-bench-", dir=".earthsig") as tmp:
        home = Path(tmp)
        built(home / "m", InferenceSettings().default_model)  # before the workers start
        hrefs = [str(make_sample_product("T31TCJ", date(2024, 6, 1) + timedelta(days=i),
                                         args.size, home / "s", seed=i))
                 for i in range(args.products)]
        dsn = fresh_database(libpq_env(state.postgres.dsn))
        ingest = IngestSettings(home=home)
        inference = InferenceSettings(model_repository=home / "m")
        process_product(hrefs[0], ingest=ingest, inference=inference, dsn=dsn)  # warm-up
        t0 = time.perf_counter()
        for href in hrefs:
            process_product(href, ingest=ingest, inference=inference, dsn=dsn)
        baseline = time.perf_counter() - t0
        rows = [(w, through_queue(hrefs, w, home, redis_url, dsn)) for w in (1, 2, 4)]
    per_hour = args.products * 3600
    model = inference.default_model
    print(f"\n## Queue throughput: {args.products} products of {args.size} x {args.size} px, "
          f"{model} ({inference.runtime_for(model)}, {inference.threads_for(model)} thread(s) "
          f"per worker); {cpu_description()}\n")
    print("| run | seconds | products/hour | x in-process baseline |")
    print("|---|---:|---:|---:|")
    print(f"| in process, no queue (baseline) | {baseline:.2f} | {per_hour / baseline:.0f} "
          f"| 1.00 |")
    for workers, seconds in rows:
        print(f"| {workers} worker(s), 3 stages | {seconds:.2f} | {per_hour / seconds:.0f} | "
              f"{seconds / baseline:.2f} |")


if __name__ == "__main__":
    main()
