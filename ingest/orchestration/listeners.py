"""Waiting for a queued chain only while some worker can run it.

``wait_for`` polls the chain's jobs; with no worker on a stage's queue (after ``make down``
left Redis reachable, or before any worker was started) they never move and it would wait for
ever. RQ registers every live worker in a per-queue set (``Worker.all(queue=...)``, keys that
expire when the worker's heartbeat stops): the wait checks it, says at once which queues have no
listener, and gives up after a bounded grace if none comes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.queue import wait_for
from ingest.orchestration.stages import Stage, queue_name
from ingest.settings import IngestSettings


class NoWorkerError(RuntimeError):
    """No worker listened on a queue the chain needs for the whole grace period."""


def deaf_queues(queues: Sequence[str], connection: Redis) -> list[str]:
    """The queues among ``queues`` on which no registered worker listens now."""
    return [name for name in queues
            if not Worker.all(queue=Queue(name, connection=connection))]


def pending_queues(job_id: str, connection: Redis, settings: IngestSettings) -> list[str]:
    """The queues of the stages of ``job_id``'s chain that have not finished yet."""
    ids = ChainIds.from_job_id(job_id)
    queues = []
    for stage in Stage:
        try:
            done = Job.fetch(ids.job_id(stage), connection=connection).get_status(
                refresh=True) == JobStatus.FINISHED
        except NoSuchJobError:  # expired after its result TTL: long done
            done = True
        if not done:
            queues.append(queue_name(stage, settings))
    return queues


def wait_with_workers(job_id: str, *, connection: Redis, settings: IngestSettings,
                      timeout_s: float, worker_grace_s: float,
                      say: Callable[[str], None], poll_s: float = 1.0) -> dict:
    """``wait_for(job_id)``, giving up with :class:`NoWorkerError` once a queue the chain still
    needs has had no worker for ``worker_grace_s`` seconds; ``say`` tells of it at once.

    Raises ``TimeoutError`` after ``timeout_s`` and ``JobFailedError`` as ``wait_for`` does.
    """
    deadline = time.monotonic() + timeout_s
    deaf_since: float | None = None
    told: list[str] = []
    while True:
        deaf = deaf_queues(pending_queues(job_id, connection, settings), connection)
        now = time.monotonic()
        if not deaf:
            deaf_since, told = None, []
        else:
            deaf_since = now if deaf_since is None else deaf_since
            if deaf != told:
                say(f"no worker is listening on queue {', '.join(deaf)}: start one with "
                    f"`earthsig worker` (or `make up`); waiting {worker_grace_s:g} s for one")
                told = deaf
            if now - deaf_since >= worker_grace_s:
                raise NoWorkerError(
                    f"gave up: no worker listened on queue {', '.join(deaf)} for "
                    f"{worker_grace_s:g} s; job {job_id} stays queued and runs once a worker "
                    "starts (`earthsig worker`)")
        slice_s = min(poll_s, max(deadline - now, 0.0))
        try:
            return wait_for(job_id, connection=connection, timeout_s=slice_s,
                            poll_s=min(0.5, poll_s))
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"job {job_id} not done after {timeout_s:g} s") from None
