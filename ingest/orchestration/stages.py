"""The stage queues of the pipeline (their jobs' ids: ``chain_ids``).

Per product: ``fetch`` (IO-bound: check or bring the product), ``infer`` (compute-bound: read,
infer, write the files and commit them as a run), ``publish`` (register the item). Workers
subscribe to the stages they should run, so IO and compute scale apart, on any number of hosts.
"""

from __future__ import annotations

from enum import StrEnum

from rq.job import Job

from ingest.settings import IngestSettings


class Stage(StrEnum):
    FETCH = "fetch"
    INFER = "infer"
    PUBLISH = "publish"


# Workers take the later stages first, so products in flight finish before new ones start.
WORK_ORDER = (Stage.PUBLISH, Stage.INFER, Stage.FETCH)
# The scheduler's daily discovery runs on a queue of its own, taken last.
DISCOVER_QUEUE = "discover"


def queue_name(stage: Stage, settings: IngestSettings) -> str:
    return f"{settings.queue_prefix}{stage.value}"


def worker_queue_names(queues: list[str], settings: IngestSettings) -> list[str]:
    """The Redis queues of ``--queues fetch,discover``: stage names with the queue prefix.

    A name given with the prefix already is taken as it is; anything else is refused, since a
    worker on a queue nobody enqueues to would wait forever without a word.
    """
    prefix, known = settings.queue_prefix, [*(s.value for s in WORK_ORDER), DISCOVER_QUEUE]
    names = []
    for queue in queues:
        base = queue[len(prefix):] if prefix and queue.startswith(prefix) else queue
        if base not in known:
            raise ValueError(f"unknown queue {queue!r}: expected one of {', '.join(known)}")
        names.append(f"{prefix}{base}")
    return names


def timeout_s(stage: Stage, settings: IngestSettings) -> int:
    return {Stage.FETCH: settings.fetch_timeout_s, Stage.INFER: settings.infer_timeout_s,
            Stage.PUBLISH: settings.publish_timeout_s}[stage]


def cause(job: Job) -> str:
    """Why a job failed: our classified cause, else the last line of its traceback."""
    if job.meta.get("cause"):
        return str(job.meta["cause"])
    result = job.latest_result()
    text = (result.exc_string if result and result.exc_string else job.exc_info) or "unknown"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown"
