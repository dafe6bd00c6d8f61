"""Enqueueing a product as a chain of stage jobs, and waiting for it.

Job ids are deterministic (stage + product + model version: ``chain_ids``). RQ's
``unique=True`` does not combine with dependencies, so uniqueness is ours: under a short Redis
lock per product and model, a chain already queued or running is left alone, a finished one
is a no-op unless forced, and a failed one is replaced.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, cast

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from ingest.fetch import ProductSource
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.jobs import fetch_job, infer_job, publish_job
from ingest.orchestration.stages import Stage, cause, queue_name, timeout_s
from ingest.orchestration.sweep import register_chain
from ingest.readers import load_product
from ingest.settings import IngestSettings

IN_FLIGHT = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED,
             JobStatus.CREATED}
ENDED_BADLY = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
RESULT_TTL_S = 7 * 86400
FAILURE_TTL_S = 30 * 86400


class JobFailedError(RuntimeError):
    """A product's chain ended in failure; the message carries the stage and the cause."""


@dataclass(frozen=True)
class Enqueued:
    job_id: str  # the chain's last job (publish): wait on it
    product_id: str
    model: str
    state: str  # "queued", "in-flight" (left alone) or "done" (no-op)

    @property
    def already_in_flight(self) -> bool:
        return self.state == "in-flight"


def _status(job_id_: str, connection: Redis) -> JobStatus | None:
    try:
        return Job.fetch(job_id_, connection=connection).get_status(refresh=True)
    except NoSuchJobError:
        return None


def enqueue_product(href: str, model_ref: str | None, *, connection: Redis,
                    ingest: IngestSettings | None = None,
                    inference: InferenceSettings | None = None,
                    force: bool = False) -> Enqueued:
    """Queue the fetch -> infer -> publish chain of the product at ``href`` (read in place)."""
    product = load_product(href)  # fail here, not in a worker, when the href is not a product
    return enqueue_source(ProductSource(product.id, href=href), model_ref,
                          connection=connection, ingest=ingest, inference=inference,
                          force=force)


def enqueue_source(source: ProductSource, model_ref: str | None, *, connection: Redis,
                   ingest: IngestSettings | None = None,
                   inference: InferenceSettings | None = None,
                   force: bool = False) -> Enqueued:
    """Queue the fetch -> infer -> publish chain of one product; its fetch job brings it."""
    ingest = ingest or IngestSettings()
    inference = inference or InferenceSettings()
    spec = ModelRepository.from_settings(inference).resolve(
        model_ref or inference.default_model).spec
    product_id = source.product_id
    ids = ChainIds.of(product_id, spec.ref).by_stage()
    with connection.lock(f"earthsig:enqueue:{ids[Stage.PUBLISH]}", timeout=60,
                         blocking_timeout=30):
        statuses = {stage: _status(i, connection) for stage, i in ids.items()}
        failed = any(s in ENDED_BADLY for s in statuses.values())
        # A failed stage leaves its dependents deferred for ever: such a chain is replaced.
        if not failed and any(s in IN_FLIGHT for s in statuses.values()):
            return Enqueued(ids[Stage.PUBLISH], product_id, spec.ref, "in-flight")
        if statuses[Stage.PUBLISH] == JobStatus.FINISHED and not force:
            return Enqueued(ids[Stage.PUBLISH], product_id, spec.ref, "done")
        for i in ids.values():
            with contextlib.suppress(NoSuchJobError):
                Job.fetch(i, connection=connection).delete()
        _enqueue_chain(source, spec.ref, ids, connection, ingest)
        register_chain(connection, ingest.queue_prefix, ids[Stage.PUBLISH])
    return Enqueued(ids[Stage.PUBLISH], product_id, spec.ref, "queued")


def _enqueue_chain(source: ProductSource, model_ref: str, ids: dict[Stage, str],
                   connection: Redis, ingest: IngestSettings) -> None:
    retry = Retry(max=ingest.retries, interval=ingest.retry_intervals_s) if ingest.retries \
        else None
    product_id = source.product_id
    common: dict[str, Any] = {
        "result_ttl": RESULT_TTL_S, "failure_ttl": FAILURE_TTL_S, "retry": retry,
        "meta": {"product_id": product_id, "model": model_ref, "href": source.location}}
    previous = None
    for stage, func, args in ((Stage.FETCH, fetch_job, (source.as_dict(),)),
                              (Stage.INFER, infer_job, (model_ref,)),
                              (Stage.PUBLISH, publish_job, ())):
        queue = Queue(queue_name(stage, ingest), connection=connection)
        previous = queue.enqueue_call(
            func, args=args, job_id=ids[stage], timeout=timeout_s(stage, ingest),
            depends_on=previous, description=f"{stage.value} {product_id} ({model_ref})",
            **common)


def wait_for(job_id_: str, *, connection: Redis, timeout_s: float = 3600,
             poll_s: float = 0.5) -> dict:
    """Block until the chain ending in ``job_id_`` finishes; raise with the failing stage."""
    deadline = time.monotonic() + timeout_s
    job = Job.fetch(job_id_, connection=connection)
    chain = list(ChainIds.from_job_id(job_id_))
    while True:
        status = job.get_status(refresh=True)
        if status == JobStatus.FINISHED:
            return cast(dict, job.return_value())  # publish_job's summary
        for stage_job in chain:
            failed = _failed(stage_job, connection)
            if failed:
                raise JobFailedError(failed)
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id_} still {status.value} after {timeout_s:.0f}s")
        time.sleep(poll_s)


def _failed(job_id_: str, connection: Redis) -> str | None:
    try:
        job = Job.fetch(job_id_, connection=connection)
    except NoSuchJobError:
        return None
    status = job.get_status(refresh=True)
    if status not in ENDED_BADLY:
        return None
    return f"job {job_id_} {status.value}: {cause(job)}"
