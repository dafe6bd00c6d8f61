"""The RQ worker of the pipeline, with the project's settings."""

from __future__ import annotations

from redis import Redis
from rq import Queue, Worker

from ingest.settings import IngestSettings


def run_worker(queues: list[str] | None = None, *, burst: bool = False,
               settings: IngestSettings | None = None, name: str | None = None) -> bool:
    """Work the given queues (default: the product queue) until stopped, or empty if burst."""
    settings = settings or IngestSettings()
    connection = Redis.from_url(settings.redis_url)
    names = queues or [settings.queue]
    worker = Worker([Queue(q, connection=connection) for q in names], connection=connection,
                    name=name)
    return worker.work(burst=burst, logging_level="INFO")
