"""RQ job functions: thin adapters over the pipeline, run inside worker processes."""

from __future__ import annotations

import os
import socket

from ingest.pipeline import process_product


def process_product_job(href: str, model_ref: str | None = None) -> dict:
    """Process one product; the returned dict is the job's result."""
    result = process_product(href, model_ref)
    return {
        "item_id": result.item_id,
        "product_id": result.product_id,
        "model": result.model,
        "timings_s": result.timings_s,
        "worker_pid": os.getpid(),
        "worker_host": socket.gethostname(),
    }
