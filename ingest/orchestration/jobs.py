"""RQ job functions of the three stages: thin adapters over the pipeline.

Failures are classified where they happen: invalid input (a corrupt or incomplete product, an
unknown model) fails at once with its cause; anything else is transient (database, Redis,
network, model server) and is retried with back-off by RQ.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
from collections.abc import Callable
from typing import Any, TypeVar

import pystac
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job

from inference.errors import ModelNotFoundError
from ingest.errors import InvalidProductError
from ingest.fetch import ProductSource
from ingest.fetch_inputs import fetch_claimed, release_input
from ingest.fetch_limits import FetchPaused
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.monitor import record_published
from ingest.orchestration.pausepoints import pause_point
from ingest.orchestration.stages import Stage
from ingest.outputs.store import asset_store
from ingest.pipeline import Prepared, prepare_product, register_prepared
from ingest.readers import load_product, open_product
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)
INVALID_INPUT = (InvalidProductError, ModelNotFoundError)
T = TypeVar("T")


def _run(work: Callable[[], T]) -> T:
    """Run ``work`` in the current job, recording where it runs and why it failed."""
    job = get_current_job()
    if job is not None:
        job.meta.update(horse_pid=os.getpid(), horse_host=socket.gethostname(),
                        attempts=int(job.meta.get("attempts", 0)) + 1)
        job.save_meta()
    try:
        return work()
    except FetchPaused as exc:
        if job is not None:
            # Read by PipelineWorker.handle_job_failure: scheduled again, not failed.
            job.meta.update(pause_s=exc.delay_s, pauses=int(job.meta.get("pauses", 0)) + 1,
                            cause=f"paused: {exc}")
            job.save_meta()
        raise
    except INVALID_INPUT as exc:
        if job is not None:
            job.retries_left = 0  # retrying cannot fix the input
            job.meta["cause"] = f"invalid input: {exc}"
            job.save_meta()
        raise
    except Exception as exc:
        if job is not None:
            job.meta["cause"] = f"transient: {type(exc).__name__}: {exc}"
            job.save_meta()
        raise


def _dependency_result(job: Job | None) -> Any:
    if job is None or job.dependency is None:
        raise RuntimeError("a stage job must run after its dependency")
    return job.dependency.return_value()


def fetch_job(source: dict) -> dict:
    """Bring the product (``fetch.ProductSource`` as a dict) where every worker can read it -
    download a SAFE zip into the shared inputs folder, or nothing for a product read in place -
    parse it, check that it is complete and readable, and hand the parsed item forward."""

    def work() -> dict:
        wanted = ProductSource.from_dict(source)
        job = get_current_job()
        if job is None:
            raise RuntimeError("the fetch stage runs as a job of a chain")
        href = fetch_claimed(wanted, ChainIds.from_job_id(job.id).key, IngestSettings(),
                             job.connection)
        item = load_product(href)  # the product's only parse on its way
        if item.id != wanted.product_id:
            log.warning("%s: the product read is %s (the provider's id differs)",
                        wanted.product_id, item.id)
        bands = ["B02", "B03", "B04", "B08"]
        with open_product(item, bands) as reader:  # opens every band: fails on a bad file
            grid = reader.grid
        pause_point("fetch")
        return {"href": href, "product_id": item.id, "shape": [grid.height, grid.width],
                "item": item.to_dict()}

    return _run(work)


def infer_job(model_ref: str | None) -> dict:
    """Read, infer, write the files of the product the fetch stage brought (from the item it
    parsed) and commit them as a run (``ingest.catalog.publisher``, first half)."""

    def work() -> dict:
        fetched = _dependency_result(get_current_job())
        item = pystac.Item.from_dict(fetched["item"])
        prepared = prepare_product(item, model_ref, href=fetched["href"])
        return dataclasses.asdict(prepared)

    return _run(work)


def publish_job() -> dict:
    """Register the item prepared by the infer stage (the last step of a product; the
    publisher's second half)."""

    def work() -> dict:
        job = get_current_job()
        prepared = Prepared(**_dependency_result(job))
        result = register_prepared(prepared)
        if job is not None:
            record_published(job.connection, prepared.run)
            # The chain is done with its input: the zip goes with the last chain needing it.
            chain = ChainIds.from_job_id(job.id)
            with contextlib.suppress(NoSuchJobError):  # gone: nothing left to tell us
                fetched = Job.fetch(chain.job_id(Stage.FETCH), connection=job.connection)
                release_input(job.connection, fetched.args[0]["product_id"], chain.key,
                              IngestSettings())
        return {**dataclasses.asdict(result), "worker_pid": os.getpid(),
                "worker_host": socket.gethostname()}

    try:
        return _run(work)
    except Exception:
        job = get_current_job()
        if job is not None and not job.retries_left:
            # The last try failed: nothing will ever point at this run.
            prepared = _dependency_result(job)
            asset_store(IngestSettings()).discard(prepared["run"])
        raise
