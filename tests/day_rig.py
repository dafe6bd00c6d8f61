"""A simulated day's machinery, shared by the day-load test and benchmark (issue 23).

Two providers serve the same day (``tests.simulated_day``): ``primary`` and ``backup``, each a
``tests.ingest.flaky_stac`` server with its own outage switch, both reached by EODAG over HTTP.
Workers run on hosts (``tests.hosts``) against one Redis, one pgstac and one S3-protocol store.
What is left afterwards is read from RQ's registries, pgstac and the bucket.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)

from ingest.catalog.pgstac_db import pgstac_session
from ingest.orchestration.stages import Stage, queue_name
from ingest.settings import IngestSettings
from tests.eodag_provider import LocalStac, eodag_environment
from tests.hosts import boto_credentials
from tests.servers import uvicorn_server

PROVIDERS = ("primary", "backup")


@dataclass
class DayProviders:
    roots: dict[str, Path]
    bases: dict[str, str]
    eodag_env: dict[str, str]

    def outage(self, name: str, down: bool) -> None:
        flag = self.roots[name] / "outage"
        if down:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)


@contextmanager
def day_providers(day_root: Path, work: Path) -> Iterator[DayProviders]:
    """``primary`` serves ``day_root``; ``backup`` the same items and files (links to them)
    behind an outage switch of its own."""
    backup = work / "backup-provider"
    backup.mkdir(parents=True)
    for part in ("items", "files"):
        (backup / part).symlink_to((day_root / part).resolve(), target_is_directory=True)
    roots = {"primary": day_root, "backup": backup}
    with uvicorn_server("tests.ingest.flaky_stac:create_app",
                        {"EARTHSIG_TEST_STAC_ROOT": str(day_root)}) as first, \
            uvicorn_server("tests.ingest.flaky_stac:create_app",
                           {"EARTHSIG_TEST_STAC_ROOT": str(backup)}) as second:
        bases = {"primary": first, "backup": second}
        env = eodag_environment(work / "eodag", [LocalStac("primary", first, 2),
                                                  LocalStac("backup", second, 1)])
        yield DayProviders(roots, bases, env)


def stage_queues(redis: Redis, settings: IngestSettings) -> list[Queue]:
    return [Queue(queue_name(stage, settings), connection=redis) for stage in Stage]


def unfinished(redis: Redis, settings: IngestSettings) -> dict[str, int]:
    """Jobs queued, started, deferred, scheduled or failed, per ``<queue>:<state>``; empty
    when everything finished."""
    left = {}
    for queue in stage_queues(redis, settings):
        counts = {"queued": queue.count,
                  "started": StartedJobRegistry(queue=queue).count,
                  "deferred": DeferredJobRegistry(queue=queue).count,
                  "scheduled": ScheduledJobRegistry(queue=queue).count,
                  "failed": FailedJobRegistry(queue=queue).count}
        left.update({f"{queue.name}:{k}": v for k, v in counts.items() if v})
    return left


def published_sources(dsn: str) -> Counter[str]:
    """Items per source product, as pgstac holds them."""
    with pgstac_session(dsn) as db:
        rows = db.query("SELECT content->'properties'->>'earthsig:source_product', "
                        "count(*) FROM items GROUP BY 1")
        return Counter({source: int(n) for source, n in rows})


def runs_in_store(endpoint: str, bucket: str, collection: str = "landcover") -> dict[str, set]:
    """item id -> the run folders holding its files in the bucket, and hidden (staging)
    objects under the key ``.staging``."""
    client = boto3.client("s3", endpoint_url=endpoint, **boto_credentials())
    runs: dict[str, set] = {}
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"catalog/{collection}/"):
        for entry in page.get("Contents", []):
            parts = entry["Key"].split("/")
            if any(p.startswith(".") for p in parts):
                runs.setdefault(".staging", set()).add(entry["Key"])
            elif len(parts) >= 5:
                runs.setdefault(parts[2], set()).add(parts[3])
    return runs


def wait_until(done: Callable[[], bool], timeout_s: float, what: Callable[[], str],
               poll_s: float = 1.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s: {what()}")
        time.sleep(poll_s)


@dataclass(frozen=True)
class JobTimes:
    """Where one stage job's time went (seconds): waiting in its queue, then running."""

    stage: str
    worker: str
    enqueued_at: dt.datetime
    started_at: dt.datetime
    ended_at: dt.datetime

    @property
    def waited(self) -> float:
        return (self.started_at - self.enqueued_at).total_seconds()

    @property
    def ran(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


def job_times(redis: Redis, settings: IngestSettings) -> list[JobTimes]:
    """The finished stage jobs' own timestamps (RQ's enqueued_at, started_at, ended_at)."""
    from rq.registry import FinishedJobRegistry

    times = []
    for queue in stage_queues(redis, settings):
        ids = FinishedJobRegistry(queue=queue).get_job_ids()
        for job in Job.fetch_many(ids, connection=redis):
            if job is None or not (job.enqueued_at and job.started_at and job.ended_at):
                continue
            times.append(JobTimes(queue.name, str(job.worker_name), job.enqueued_at,
                                  job.started_at, job.ended_at))
    return times


def between_jobs(times: list[JobTimes]) -> float:
    """Seconds the workers spent from the end of one job to the start of their next, summed:
    the result saved, dependents queued, the next job dequeued, a work horse forked (and any
    wait for work, which a backlog of queued products keeps short)."""
    by_worker: dict[str, list[JobTimes]] = {}
    for t in times:
        by_worker.setdefault(t.worker, []).append(t)
    gaps = 0.0
    for jobs in by_worker.values():
        jobs.sort(key=lambda t: t.started_at)
        gaps += sum((b.started_at - a.ended_at).total_seconds()
                    for a, b in zip(jobs, jobs[1:], strict=False))
    return gaps
