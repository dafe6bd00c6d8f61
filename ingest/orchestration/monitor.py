"""What the pipeline is doing: counts per state and stage, throughput, latest failures.

The original service's dashboard showed pending / running / failed / done tasks; this is the
same, from RQ's registries, as plain data (CLI table, JSON, HTTP).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)

from ingest.orchestration.stages import Stage, cause, queue_name
from ingest.settings import IngestSettings

PUBLISHED_KEY = "earthsig:published"  # sorted set: item run -> publication time


@dataclass
class StageCounts:
    queued: int
    running: int
    waiting: int  # deferred behind an earlier stage, or scheduled for a retry
    failed: int
    done: int


@dataclass
class Failure:
    product_id: str
    stage: str
    cause: str
    ended_at: str | None
    job_id: str


@dataclass
class PipelineStatus:
    stages: dict[str, StageCounts]
    published_last_hour: int
    published_last_day: int
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def record_published(connection: Redis, run: str) -> None:
    now = time.time()
    with connection.pipeline() as pipe:
        pipe.zadd(PUBLISHED_KEY, {run: now})
        pipe.zremrangebyscore(PUBLISHED_KEY, 0, now - 7 * 86400)  # keep a week
        pipe.execute()


def pipeline_status(connection: Redis, settings: IngestSettings | None = None,
                    max_failures: int = 10) -> PipelineStatus:
    settings = settings or IngestSettings()
    stages, failures = {}, []
    for stage in Stage:
        queue = Queue(queue_name(stage, settings), connection=connection)
        failed = FailedJobRegistry(queue=queue)
        stages[stage.value] = StageCounts(
            queued=queue.count,
            running=StartedJobRegistry(queue=queue).count,
            waiting=DeferredJobRegistry(queue=queue).count
            + ScheduledJobRegistry(queue=queue).count,
            failed=failed.count,
            done=FinishedJobRegistry(queue=queue).count,
        )
        failures.extend(_failures(failed, stage, connection, max_failures))
    now = time.time()
    failures.sort(key=lambda f: f.ended_at or "", reverse=True)
    return PipelineStatus(
        stages=stages,
        published_last_hour=connection.zcount(PUBLISHED_KEY, now - 3600, now),
        published_last_day=connection.zcount(PUBLISHED_KEY, now - 86400, now),
        failures=failures[:max_failures],
    )


def _failures(registry: FailedJobRegistry, stage: Stage, connection: Redis,
              limit: int) -> list[Failure]:
    out = []
    for job_id in registry.get_job_ids(0, limit - 1, desc=True):
        try:
            job = Job.fetch(job_id, connection=connection)
        except NoSuchJobError:
            continue
        out.append(Failure(product_id=str(job.meta.get("product_id", "?")), stage=stage.value,
                           cause=cause(job), job_id=job_id,
                           ended_at=job.ended_at.isoformat() if job.ended_at else None))
    return out


def retry_failed(connection: Redis, settings: IngestSettings | None = None,
                 stages: list[Stage] | None = None) -> list[str]:
    """Requeue failed jobs (their deferred dependents follow when they succeed)."""
    settings = settings or IngestSettings()
    requeued = []
    for stage in stages or list(Stage):
        registry = FailedJobRegistry(queue=Queue(queue_name(stage, settings),
                                                 connection=connection))
        for job_id in registry.get_job_ids():
            registry.requeue(job_id)
            requeued.append(job_id)
    return requeued
