"""``make bench`` (day load): a simulated day over Europe discovered and processed by 1, 2 and
4 workers on two hosts (issue 23, point 3).

The day is ``tests.simulated_day``'s (3 July 2025: 702 acquisitions on real MGRS tiles, 89 of
them listed as L1C too), each product ``--size`` px (256), served by a local STAC provider
that EODAG searches; workers on two "hosts" (``tests.hosts``: own homes, clean environments;
one host for 1 worker) share the stack's Redis, a fresh pgstac database and an S3-protocol
store (moto). The sweep serves ``--products`` of the day's acquisitions (spread over it);
``--full N`` then runs the whole day with N workers. Generated products are cached in
``.earthsig/bench/day-<date>-<size>`` (a rerun draws nothing).

Per run: products/hour from the discovery run's start to the last item published, and where
the workers' time went, from RQ's own job timestamps (enqueued, started, ended, worker): in
stage jobs (started -> ended, per stage), the queue's overhead per product (a worker's time
from the end of one job to the start of its next: result saved, dependents queued, next job
dequeued, work horse forked), and all time outside jobs (workers x processing wall time - time
in jobs: the overhead plus idle workers at the run's start and end). Ratios against the
1-worker run of the same sweep. The model is the deployment's default unless ``--model``
names another (``clc-spectral``, the cheap reference, shows the queue's share best).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from redis import Redis
from rq import Worker

from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from infra.postgres import libpq_env
from infra.settings import StackSettings
from infra.stack import CORE, Stack
from ingest.discovery import load_aoi
from ingest.discovery.daily import run_discovery
from ingest.settings import IngestSettings
from tests.bench.machine import cpu_description
from tests.bench.queue import fresh_database
from tests.day_rig import (
    between_jobs,
    day_providers,
    job_times,
    published_sources,
    unfinished,
    wait_until,
)
from tests.hosts import create_public_bucket, new_host, shared_environment
from tests.models import built
from tests.servers import moto_s3_server
from tests.simulated_day import WrittenDay, day_passes, sample_of, write_day
from tests.workers import stop_workers

DAY = dt.date(2025, 7, 3)
REDIS_DB = 10
BENCH_DB = "earthsig_bench_day"
CACHE = Path(".earthsig/bench")


def run_day(day: WrittenDay, workers: int, *, dag: object, work: Path, redis_url: str,
            admin_env: dict[str, str], s3_endpoint: str, model: str,
            inference: InferenceSettings) -> dict[str, float]:
    """Discover and process ``day`` with ``workers`` workers; return the run's figures."""
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    dsn = fresh_database(admin_env, BENCH_DB)
    bucket = f"day-{workers}-{int(time.time())}"
    create_public_bucket(s3_endpoint, bucket)
    # The model repository as a volume every node mounts (the real model cannot be built).
    shared = {**shared_environment(libpq_env(dsn), redis_url, s3_endpoint, bucket, model),
              "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(inference.model_repository.resolve())}
    hosts = [new_host(name, work / f"{name}-{workers}-{len(day.l2a)}", shared)
             for name in ("host-a", "host-b")[:min(workers, 2)]]
    for n in range(workers):
        hosts[n % len(hosts)].start_worker(f"w{workers}-{n}")
    settings = IngestSettings(_env_file=None, home=work / f"enqueuer-{workers}-{len(day.l2a)}",
                              redis_url=redis_url, discovery_providers=["primary"])
    try:
        # Every worker registered (its model built, its imports done) before the clock starts.
        wait_until(lambda: len(Worker.all(connection=redis)) == workers, 300,
                   lambda: "workers not up")
        t0 = time.perf_counter()
        record = run_discovery(dag, connection=redis, end=DAY, aoi=load_aoi("europe"),
                               max_cloud=60.0, model_ref=model, settings=settings, dsn=dsn,
                               inference=inference)
        discovered = time.perf_counter() - t0
        assert record.queued == len(day.l2a), record
        wait_until(lambda: sum(published_sources(dsn).values()) >= len(day.l2a)
                   and not unfinished(redis, settings), 7200,
                   lambda: str(unfinished(redis, settings)), poll_s=0.5)
        total = time.perf_counter() - t0
    finally:
        stop_workers([w for h in hosts for w in h.workers.values()])
    sources = published_sources(dsn)
    assert set(sources) == set(day.l2a) and set(sources.values()) == {1}
    times = job_times(redis, settings)
    first = min(t.enqueued_at for t in times)
    last = max(t.ended_at for t in times)
    processing = (last - first).total_seconds()
    in_jobs = sum(t.ran for t in times)
    products = len(day.l2a)
    return {"workers": workers, "products": products, "discovery_s": discovered,
            "total_s": total, "per_hour": products * 3600 / total,
            "in_jobs_s": in_jobs / products,
            "between_jobs_s": between_jobs(times) / products,
            "idle_s": (workers * processing - in_jobs) / products,
            "jobs": len(times),
            **{f"{stage}_s": sum(t.ran for t in times if t.stage.endswith(stage)) / products
               for stage in ("fetch", "infer", "publish")}}


def _row(name: str, r: dict[str, float], base: dict[str, float]) -> str:
    return (f"| {name} | {r['products']:.0f} | {r['discovery_s']:.1f} | {r['total_s']:.1f} | "
            f"{r['per_hour']:.0f} | {r['per_hour'] / base['per_hour']:.2f} | "
            f"{r['fetch_s']:.2f} / {r['infer_s']:.2f} / {r['publish_s']:.2f} | "
            f"{r['between_jobs_s']:.2f} | {r['between_jobs_s'] / base['between_jobs_s']:.2f} | "
            f"{r['idle_s']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=120,
                        help="acquisitions of the day served in the 1/2/4-worker sweep")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", default="1,2,4", help="the sweep (empty: none)")
    parser.add_argument("--full", type=int, default=0,
                        help="then the whole day with this many workers (0: not)")
    parser.add_argument("--model", default=None, help="default: the deployment's default")
    args = parser.parse_args()
    state = Stack(StackSettings()).up(CORE)
    assert state.postgres and state.redis
    redis_url = state.redis.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    passes = day_passes(DAY)
    cache = CACHE / f"day-{DAY}-{args.size}"
    t0 = time.perf_counter()
    whole = write_day(passes, cache, args.size) if args.full else None
    sweep = write_day(sample_of(passes, args.products), cache, args.size)
    print(f"day written in {time.perf_counter() - t0:.0f} s: {len(passes)} acquisitions")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="earthsig-bench-day-", dir=CACHE) as tmp:
        work = Path(tmp).resolve()
        model_name = args.model or InferenceSettings().default_model
        inference = InferenceSettings(_env_file=None,
                                      model_repository=built(work / "m", model_name))
        model = ModelRepository.from_settings(inference).resolve(model_name).spec.ref
        with moto_s3_server(work) as s3:
            rows = []
            for day, counts in ((sweep, [int(w) for w in args.workers.split(",") if w]),
                                (whole, [args.full] if whole else [])):
                if not counts:
                    continue
                assert day is not None
                # Only this run's products are served: the provider's own root.
                root = work / f"provider-{len(day.l2a)}"
                _link_day(day, cache, root)
                with day_providers(root, work / f"servers-{len(day.l2a)}") as providers:
                    os.environ.update(providers.eodag_env)
                    from eodag import EODataAccessGateway

                    dag = EODataAccessGateway()
                    for workers in counts:
                        rows.append(run_day(day, workers, dag=dag, work=work,
                                            redis_url=redis_url, s3_endpoint=s3,
                                            admin_env=libpq_env(state.postgres.dsn),
                                            model=model_name, inference=inference))
                        print(rows[-1], flush=True)
    base = rows[0]
    print(f"\n## A day over Europe: {model} ({inference.runtime_for(model_name)}, "
          f"{inference.threads_for(model_name)} thread(s) a worker), {args.size} px products, "
          f"{sweep.listed} listed / {len(sweep.l2a)} acquisitions in the sweep; "
          f"{cpu_description()}\n")
    print("| run | products | discovery s | total s | products/hour | x 1 worker | "
          "in jobs s/product (fetch / infer / publish) | queue overhead s/product | "
          "overhead x 1 worker | outside jobs s/product |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(_row(f"{r['workers']:.0f} worker(s)", r, base))


def _link_day(day: WrittenDay, cache: Path, root: Path) -> None:
    """A provider root listing only ``day``'s items (files linked from the cache)."""
    from tests.simulated_day import L1C, L2A

    for collection, ids in ((L2A, day.l2a), (L1C, day.l1c)):
        (root / "items" / collection).mkdir(parents=True)
        for product_id in ids:
            (root / "items" / collection / f"{product_id}.json").symlink_to(
                (cache / "items" / collection / f"{product_id}.json").resolve())
    (root / "files").symlink_to((cache / "files").resolve(), target_is_directory=True)


if __name__ == "__main__":
    main()
