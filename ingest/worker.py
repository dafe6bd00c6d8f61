"""The RQ worker of the pipeline, with the project's settings.

RQ notices an abandoned job (its worker killed) only once the job's heartbeat expires, at
least 60 s after the death, and only in a maintenance pass. Our workers also look, in every
maintenance pass, for started jobs whose work horse ran on this host and is gone, and hand
them to RQ's own abandoned-job handling at once (retried when retries are left).
"""

from __future__ import annotations

import logging
import os
import socket

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from ingest.settings import IngestSettings
from ingest.stages import DISCOVER_QUEUE, WORK_ORDER, queue_name

log = logging.getLogger(__name__)
MAINTENANCE_INTERVAL_S = 15
# An idle worker blocks on its queues for worker_ttl - 15 s before it can run maintenance:
# RQ's default (420 s) would leave a dead colleague's job stranded for minutes.
WORKER_TTL_S = 30


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_abandoned(queue: Queue) -> list[str]:
    """Expire the started entries of jobs whose horse died on this host; return their ids."""
    registry = StartedJobRegistry(queue=queue)
    host = socket.gethostname()
    expired = []
    for entry, _score in queue.connection.zrange(registry.key, 0, -1, withscores=True):
        job_id = registry.parse_job_id(entry)
        try:
            job = Job.fetch(job_id, connection=queue.connection)
        except NoSuchJobError:
            continue
        pid = job.meta.get("horse_pid")
        if (job.get_status() != JobStatus.STARTED or job.meta.get("horse_host") != host
                or pid is None or _alive(int(pid))):
            continue
        queue.connection.zadd(registry.key, {entry: 1})  # long expired: RQ takes it from here
        expired.append(job_id)
    if expired:
        log.warning("jobs abandoned by a dead work horse: %s", ", ".join(expired))
        registry.cleanup()
    return expired


class PipelineWorker(Worker):
    def run_maintenance_tasks(self) -> None:
        for queue in self.queues:
            recover_abandoned(queue)
        super().run_maintenance_tasks()


def run_worker(queues: list[str] | None = None, *, burst: bool = False,
               settings: IngestSettings | None = None, name: str | None = None) -> bool:
    """Work the given queues (default: every stage, later stages first, then discovery)."""
    settings = settings or IngestSettings()
    connection = Redis.from_url(settings.redis_url)
    names = queues or [*(queue_name(stage, settings) for stage in WORK_ORDER),
                       f"{settings.queue_prefix}{DISCOVER_QUEUE}"]
    worker = PipelineWorker([Queue(q, connection=connection) for q in names],
                            connection=connection, name=name,
                            maintenance_interval=MAINTENANCE_INTERVAL_S,
                            worker_ttl=WORKER_TTL_S)
    # with_scheduler: retries with back-off are scheduled jobs; some worker must enqueue them.
    return worker.work(burst=burst, logging_level="INFO", with_scheduler=True)
