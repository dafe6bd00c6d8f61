"""Writes through the API queue the redraw of the low-zoom pyramid under them.

The pipeline redraws a collection's zoom 0-7 pyramid (catalog_schemas/pyramid.py) after each
product it publishes; an item created, replaced or deleted through the API's transactions
changes the map just as much. The API does not draw (it has no tiler client and must not wait
seconds per write): it puts a job on the pipeline's publish queue naming the footprints before
and after the write, and a worker redraws the base tiles under them and every tile above
(``ingest.catalog.pyramid_update.redraw_after_write``, named as a string: serving never
imports the pipeline). A queue that cannot be reached is logged; the write has succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from starlette.concurrency import run_in_threadpool

from tile_generations import ItemChange

log = logging.getLogger(__name__)

JOB = "ingest.catalog.pyramid_update.redraw_after_write"
JOB_TIMEOUT_S = 600


class PyramidJobs:
    """Queue pyramid redraws on ``queue`` of the Redis at ``redis_url``."""

    def __init__(self, redis_url: str, queue: str) -> None:
        self.redis_url, self.queue = redis_url, queue

    async def after_write(self, changes: Iterable[ItemChange] | None,
                          collection: str | None) -> None:
        """Queue one redraw per collection over the footprints ``changes`` name (before and
        after the write); with the footprints unknown, the whole collection's."""
        jobs: dict[str, list[list[float]] | None] = {}
        if changes is None:
            if collection:
                jobs[collection] = None
        else:
            for change in changes:
                if change.bbox is not None:
                    footprints = jobs.setdefault(change.collection, [])
                    assert footprints is not None
                    footprints.append(list(change.bbox))
        for name, bboxes in jobs.items():
            await run_in_threadpool(self._enqueue, name, bboxes)

    def _enqueue(self, collection: str, bboxes: list[list[float]] | None) -> None:
        try:
            with Redis.from_url(self.redis_url, socket_timeout=5) as redis:
                Queue(self.queue, connection=redis).enqueue(
                    JOB, collection, bboxes, job_timeout=JOB_TIMEOUT_S,
                    description=f"low-zoom pyramid of {collection} after a write through the API")
        except (RedisError, OSError) as exc:
            log.error("the low-zoom pyramid of %s not queued for redrawing after a write (%s): "
                      "its zooms 0-7 show the catalog before it until `earthsig tiles pyramid`",
                      collection, exc)
