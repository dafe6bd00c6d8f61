"""The RQ worker of the pipeline, with the project's settings.

RQ notices an abandoned job (its worker killed) only once the job's heartbeat expires, at
least 60 s after the death, and only in a maintenance pass. Our workers also look, in every
maintenance pass, for started jobs whose work horse ran on this host and is gone, and hand
them to RQ's own abandoned-job handling at once (retried when retries are left), and one of
them sweeps the open chains for jobs a Redis restart left stranded (``ingest.orchestration.sweep``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import sys
import time
from datetime import timedelta
from typing import cast

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError, StopRequested
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.utils import now

from ingest.orchestration.stages import (
    DISCOVER_QUEUE,
    WORK_ORDER,
    Stage,
    queue_name,
    worker_queue_names,
)
from ingest.orchestration.sweep import sweep_chains
from ingest.settings import IngestSettings

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
    entries = cast(list[tuple[bytes, float]],
                   queue.connection.zrange(registry.key, 0, -1, withscores=True))
    for entry, _score in entries:
        job_id = registry.parse_job_id(entry.decode())
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


def _forget_stale_registration(name: str, connection: Redis) -> None:
    """After losing Redis, our own registration (restored from its append-only file) would
    block re-registering under the same name: it is ours and dead, so it goes."""
    try:
        stale = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name,
                                   connection=connection)
        if stale is not None:
            stale.register_death()
    except RedisConnectionError:
        pass  # Redis still down: the next attempt tries again


class PipelineWorker(Worker):
    queue_prefix = ""

    def handle_job_failure(self, job: Job, queue: Queue, started_job_registry: object = None,
                           exc_string: str = "", execution: Execution | None = None) -> None:
        """A paused job (``fetch_limits.FetchPaused``: disk ceiling, no download slot) is
        scheduled again after its delay - neither failed nor charged a retry - and its
        dependents stay deferred; any other failure is RQ's."""
        pause_s = job.meta.pop("pause_s", None)
        if pause_s is None:
            super().handle_job_failure(job, queue, started_job_registry, exc_string,
                                       execution)
            return
        with self.connection.pipeline() as pipe:
            self.cleanup_execution(job, pipeline=pipe, execution=execution)
            job.set_status(JobStatus.SCHEDULED, pipeline=pipe)
            job.save_meta()
            queue.schedule_job(job, now() + timedelta(seconds=float(pause_s)), pipeline=pipe)
            pipe.execute()
        log.info("%s paused for %.0f s: %s", job.id, float(pause_s), job.meta.get("cause"))

    def run_maintenance_tasks(self) -> None:
        for queue in self.queues:
            recover_abandoned(queue)
        try:
            sweep_chains(self.connection, self.queue_prefix)
        except (RedisConnectionError, StopRequested):
            # StopRequested is RQ's answer to a SIGTERM arriving during the sweep: swallowed,
            # the worker would miss its warm shutdown and run on.
            raise
        except Exception:  # the sweep is a safety net; a bug in it must not stop the worker
            log.exception("sweeping the open chains failed")
        super().run_maintenance_tasks()


def build_served_references() -> list[str]:
    """An infer worker's first step: build the reference models it is set to run (its default
    model, and each model given an active version) that its repository lacks or holds in an
    older form, so a host serves them byte-identical to every other host's. Looking a model up
    never builds it."""
    from inference import reference
    from inference.repository import ModelRepository, parse_model_ref
    from inference.settings import InferenceSettings

    inference = InferenceSettings()
    names = [parse_model_ref(inference.default_model)[0], *inference.active_versions]
    repo = ModelRepository.from_settings(inference)
    # Stale ones too: a graph redefined within its version (same outputs, another form)
    # replaces the stored one, so an upgraded host serves what this code was tested with.
    built = repo.build_references([n for n in names if reference.buildable(n)],
                                  only_missing=True, stale_too=True)
    if built:
        log.info("built reference models missing from or stale in %s: %s", repo.root,
                 ", ".join(m.spec.ref for m in built))
    return [m.spec.ref for m in built]


PR_SET_PDEATHSIG = 1  # linux/prctl.h
_forking = {"pid": 0}  # the process forking, set just before the fork (read by the child)


def _note_forking() -> None:
    _forking["pid"] = os.getpid()


def die_with_parent() -> None:
    """In a process the worker forks (RQ's scheduler, each work horse): be killed when the
    worker dies, however it dies. RQ's warm shutdown stops both, but a SIGKILL or the OOM
    killer takes the worker alone, and its children ran on with init as parent (a scheduler
    ran 10 minutes after the suite). Linux's parent-death signal; a no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("cannot tie a worker child to its worker: errno %d", ctypes.get_errno())
    elif os.getppid() != _forking["pid"]:  # the parent died between fork and prctl
        os._exit(1)


def run_worker(queues: list[str] | None = None, *, burst: bool = False,
               settings: IngestSettings | None = None, name: str | None = None) -> bool:
    """Work the given queues (default: every stage, later stages first, then discovery)."""
    settings = settings or IngestSettings()
    os.environ.setdefault("GDAL_CACHEMAX", str(settings.gdal_cachemax_mb))
    # RQ forks a work horse per job: import the pipeline (GDAL, ONNX Runtime, pystac...) once
    # here, so every horse inherits it instead of importing it again (seconds per job).
    import ingest.orchestration.jobs  # noqa: F401
    import ingest.orchestration.operations  # noqa: F401

    names = (worker_queue_names(queues, settings) if queues else
             [*(queue_name(stage, settings) for stage in WORK_ORDER),
              f"{settings.queue_prefix}{DISCOVER_QUEUE}"])
    if queue_name(Stage.INFER, settings) in names:
        build_served_references()
    # Forks happen on this (the main) thread, to which the parent-death signal is tied.
    os.register_at_fork(before=_note_forking, after_in_child=die_with_parent)
    wait_s = 1.0
    while True:
        connection = Redis.from_url(settings.redis_url)
        if name and wait_s > 1.0:
            _forget_stale_registration(name, connection)
        worker = PipelineWorker([Queue(q, connection=connection) for q in names],
                                connection=connection, name=name,
                                maintenance_interval=MAINTENANCE_INTERVAL_S,
                                worker_ttl=WORKER_TTL_S)
        worker.queue_prefix = settings.queue_prefix
        try:
            # with_scheduler: retries with back-off are scheduled jobs; a worker enqueues them.
            return worker.work(burst=burst, logging_level="INFO", with_scheduler=True)
        except RedisConnectionError as exc:
            # RQ's worker dies with its Redis; ours waits for Redis to come back (a restart,
            # a failover) and carries on. Jobs cut off meanwhile are recovered as abandoned.
            log.warning("lost Redis (%s); trying again in %.0fs", exc, wait_s)
            time.sleep(wait_s)
            wait_s = min(wait_s * 2, 30.0)
