"""Enqueueing products and waiting for them: deterministic job ids, one job per product."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from ingest.jobs import process_product_job
from ingest.product import load_item
from ingest.settings import IngestSettings

IN_FLIGHT = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED,
             JobStatus.CREATED}


class JobFailedError(RuntimeError):
    """A product job ended in failure; the message carries the job's cause."""


@dataclass(frozen=True)
class Enqueued:
    job_id: str
    product_id: str
    model: str
    already_in_flight: bool


def product_job_id(product_id: str, model_ref: str) -> str:
    """Deterministic: the same product and model version is never in flight twice."""
    raw = f"process-{product_id}-{model_ref.replace(':', '-v')}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", raw)  # RQ's allowed job-id alphabet


def enqueue_product(href: str, model_ref: str | None, *, connection: Redis,
                    ingest: IngestSettings | None = None,
                    inference: InferenceSettings | None = None) -> Enqueued:
    """Queue one product; a product already queued or running is not queued twice."""
    ingest = ingest or IngestSettings()
    inference = inference or InferenceSettings()
    product = load_item(href)  # fail here, not in a worker, when the href is not a product
    spec = ModelRepository.from_settings(inference).resolve(
        model_ref or inference.default_model).spec
    job_id = product_job_id(product.id, spec.ref)
    try:
        existing = Job.fetch(job_id, connection=connection)
        if existing.get_status(refresh=True) in IN_FLIGHT:
            return Enqueued(job_id, product.id, spec.ref, already_in_flight=True)
        existing.delete()
    except NoSuchJobError:
        pass
    queue = Queue(ingest.queue, connection=connection)
    queue.enqueue_call(process_product_job, args=(href, spec.ref), job_id=job_id,
                       timeout=ingest.job_timeout_s, result_ttl=7 * 86400,
                       failure_ttl=30 * 86400, description=f"process {product.id} with {spec.ref}")
    return Enqueued(job_id, product.id, spec.ref, already_in_flight=False)


def wait_for(job_id: str, *, connection: Redis, timeout_s: float = 3600,
             poll_s: float = 0.5) -> dict:
    """Block until the job finishes; return its result or raise with the failure's cause."""
    deadline = time.monotonic() + timeout_s
    job = Job.fetch(job_id, connection=connection)
    while True:
        status = job.get_status(refresh=True)
        if status == JobStatus.FINISHED:
            return job.return_value()
        if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            raise JobFailedError(f"job {job_id} {status.value}: {_cause(job)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {status.value} after {timeout_s:.0f}s")
        time.sleep(poll_s)


def _cause(job: Job) -> str:
    result = job.latest_result()
    text = (result.exc_string if result and result.exc_string else job.exc_info) or "unknown"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown"
