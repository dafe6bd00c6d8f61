"""Repairing chains that Redis left inconsistent, so no product waits for ever.

RQ moves a job between states in single transactions, but a Redis restart (or failover) cuts
between them: the reply of a dequeue is lost with the job already popped, a scheduled retry is
never enqueued, a dependent stays deferred although its dependency finished. Each leaves a
job whose status says it will run while nothing will run it.

Every chain is listed in an open-chains registry of ours (a sorted set, by enqueue time) until
its last job finishes or the chain fails. A sweep, run by one worker at a time in maintenance,
looks at each open chain's jobs and at where RQ keeps them, and a job found stranded in two
sweeps at least ``grace_s`` apart is put back on its queue. Stages are idempotent (publication
is atomic and upserts its item), so a repair can never publish twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import cast

from redis import Redis
from rq import Queue
from rq.exceptions import StopRequested
from rq.job import Job, JobStatus
from rq.registry import DeferredJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from ingest.orchestration.chain_ids import ChainIds

log = logging.getLogger(__name__)
SWEEP_LOCK_S = 60
# RQ's own transitions take milliseconds; a scheduled job is due within the scheduler's 1 s
# poll. Anything stranded this long is not in passing.
DEFAULT_GRACE_S = 30.0
ENDED = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


def open_chains_key(queue_prefix: str) -> str:
    return f"earthsig:{queue_prefix}chains:open"


def _suspects_key(queue_prefix: str) -> str:
    return f"earthsig:{queue_prefix}chains:suspects"


def register_chain(connection: Redis, queue_prefix: str, last_job_id: str) -> None:
    connection.zadd(open_chains_key(queue_prefix), {last_job_id: time.time()})


@dataclass(frozen=True)
class Stranded:
    job_id: str
    status: str
    reason: str


def stranded_reason(job: Job, connection: Redis) -> str | None:
    """Why ``job`` will never run although its status says it will, or None."""
    status = job.get_status(refresh=False)
    queue = Queue(job.origin, connection=connection)
    if status == JobStatus.QUEUED:
        if queue.get_job_position(job.id) is not None or job.id in StartedJobRegistry(queue=queue):
            return None
        # A worker moves what it pops to the intermediate queue and from there, within
        # milliseconds, to the started registry; one still there after the grace lost its worker
        # with the cut (RQ's own clean-up of that list waits a minute more, then fails the job).
        if job.id.encode() in connection.lrange(queue.intermediate_queue_key, 0, -1):
            return "dequeued but started by no worker"
        return "queued but on no queue"
    if status == JobStatus.DEFERRED:
        if job.dependencies_are_met():
            return "deferred although its dependencies finished"
        return None
    if status == JobStatus.SCHEDULED:
        registry = ScheduledJobRegistry(queue=queue)
        due = connection.zscore(registry.key, job.id)
        if due is None:
            return "scheduled but in no schedule"
        if due < time.time() - DEFAULT_GRACE_S:
            return "scheduled but not enqueued when due"
        return None
    if status == JobStatus.STARTED and job.id not in StartedJobRegistry(queue=queue):
        return "started but run by no worker"
    return None


def _requeue(job: Job, connection: Redis) -> None:
    queue = Queue(job.origin, connection=connection)
    DeferredJobRegistry(queue=queue).remove(job)
    ScheduledJobRegistry(queue=queue).remove(job)
    started = StartedJobRegistry(queue=queue)
    # Not remove_executions(): the execution records themselves may be what Redis lost.
    for entry in cast(list[bytes], connection.zrange(started.key, 0, -1)):
        if started.parse_job_id(entry.decode()) == job.id:
            connection.zrem(started.key, entry)
    connection.lrem(queue.intermediate_queue_key, 0, job.id)
    # enqueue_job leaves a job whose in-memory status is "deferred" deferred, met or not.
    job.set_status(JobStatus.QUEUED)
    queue.enqueue_job(job)


def sweep_chains(connection: Redis, queue_prefix: str = "", *,
                 grace_s: float = DEFAULT_GRACE_S) -> list[Stranded]:
    """Put stranded jobs of open chains back on their queues; return what was repaired.

    Runs under a lock: with many workers, one sweeps at a time and the others skip.
    """
    lock = connection.lock(f"earthsig:{queue_prefix}chains:sweep", timeout=SWEEP_LOCK_S,
                           blocking=False)
    if not lock.acquire():
        return []
    try:
        return _sweep(connection, queue_prefix, grace_s)
    finally:
        lock.release()


def _sweep(connection: Redis, queue_prefix: str, grace_s: float) -> list[Stranded]:
    open_key, suspects_key = open_chains_key(queue_prefix), _suspects_key(queue_prefix)
    now = time.time()
    first_seen = {k.decode(): float(v)
                  for k, v in cast(dict[bytes, bytes], connection.hgetall(suspects_key)).items()}
    suspects: dict[str, float] = {}
    repaired: list[Stranded] = []
    for raw in cast(list[bytes], connection.zrange(open_key, 0, -1)):
        last = raw.decode()
        ids = list(ChainIds.from_job_id(last))
        jobs = Job.fetch_many(ids, connection=connection)
        if jobs[-1] is not None and jobs[-1].get_status(refresh=False) == JobStatus.FINISHED:
            connection.zrem(open_key, last)
            continue
        if any(j is None for j in jobs) or any(j.get_status(refresh=False) in ENDED
                                              for j in jobs if j is not None):
            # Failed (shown by `earthsig status`, replaced by retry-failed or a re-enqueue) or
            # expired: no longer ours to keep moving.
            connection.zrem(open_key, last)
            continue
        for job in (j for j in jobs if j is not None):  # none is: checked above
            reason = stranded_reason(job, connection)
            if reason is None:
                continue
            seen = first_seen.get(job.id, now)
            if now - seen < grace_s:
                suspects[job.id] = seen
                continue
            log.warning("job %s %s: put back on queue %s", job.id, reason, job.origin)
            try:
                status = job.get_status(refresh=False).value
                _requeue(job, connection)
            except StopRequested:  # the worker's SIGTERM: its warm shutdown must go on
                raise
            except Exception:  # a repair must never take the worker down with it
                log.exception("could not put job %s back on queue %s", job.id, job.origin)
                continue
            repaired.append(Stranded(job.id, status, reason))
    with connection.pipeline() as pipe:
        pipe.delete(suspects_key)
        if suspects:
            pipe.hset(suspects_key, mapping=suspects)  # type: ignore[arg-type]  # redis-py: keys typed invariantly
        pipe.execute()
    return repaired
