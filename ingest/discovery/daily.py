"""A discovery run: look back over a window, decide for every product found, queue the rest,
and log the run (``runs``), failed or not.

Decisions, in order, each product getting the first that applies: outside the AOI (a provider
may ignore the geometry), a duplicate of its acquisition (``acquisitions``: L2A over L1C, the
newest baseline), cloudy, already published for the model version (its own id, or its
acquisition under another id, unless it is a better product and the policy
``discovery_requeue_reprocessed`` says to queue it), already queued (a chain of it or of
another product of its acquisition queued, running, deferred or scheduled), else queued.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from redis import Redis
from rq.job import Job
from shapely.geometry.base import BaseGeometry

from ingest.discovery.acquisitions import Acquisition, acquisition_of, one_per_acquisition
from ingest.discovery.catalogued import catalogued_acquisitions, catalogued_products
from ingest.discovery.providers import (
    ProvidersFailedError,
    providers_in_order,
    search_providers,
)
from ingest.discovery.runs import (
    CLOUDY,
    DUPLICATE,
    IN_QUEUE,
    OUTSIDE_AOI,
    PUBLISHED,
    QUEUED,
    UNREADABLE,
    Decision,
    DiscoveryRunRecord,
    last_successful_end,
    record_run,
    window_start,
)
from ingest.discovery.search import Candidate
from ingest.errors import IngestError
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run_discovery(dag: Any, *, connection: Redis, end: dt.date, aoi: BaseGeometry,
                  max_cloud: float, model_ref: str, settings: IngestSettings,
                  dsn: str = "", inference: Any = None,
                  sleep: Callable[[float], None] = time.sleep) -> DiscoveryRunRecord:
    """One run whose window ends at ``end`` (a sensing day, UTC); logged, and returned. A run
    that fails (every provider down, the catalog unreachable) is logged as failed and its
    error raised: the next run's window reaches back over the days it missed."""
    prefix = settings.queue_prefix
    start = window_start(end, settings.discovery_lookback_days,
                         last_successful_end(connection, prefix=prefix),
                         settings.discovery_max_catchup_days)
    record = DiscoveryRunRecord(
        run_id=f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        started_at=_now(), ended_at="", status="failed",
        window=(start.isoformat(), end.isoformat()), model=model_ref)
    decisions: list[Decision] = []
    try:
        searched = search_providers(
            dag, providers_in_order(dag, settings.discovery_providers
                                    or [settings.discovery_provider], settings.discovery_levels),
            levels=settings.discovery_levels, start=start, end=end, aoi=aoi,
            attempts=settings.discovery_search_attempts,
            delays_s=settings.discovery_retry_delays_s, sleep=sleep)
        record.provider, record.attempts = searched.provider, searched.attempts
        decisions = _decide(searched.candidates, connection=connection, aoi=aoi,
                            max_cloud=max_cloud, model_ref=model_ref, settings=settings,
                            dsn=dsn, inference=inference, window=(start, end))
        record.status = "ok"
    except ProvidersFailedError as exc:
        record.attempts, record.error = exc.attempts, str(exc)
        raise
    except Exception as exc:
        record.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        record.ended_at = _now()
        record.found = len(decisions)
        record.queued = sum(d.outcome == QUEUED for d in decisions)
        for d in decisions:
            if d.outcome != QUEUED:
                record.skipped[d.outcome] = record.skipped.get(d.outcome, 0) + 1
        record_run(connection, record, decisions, prefix=prefix,
                   keep=settings.discovery_runs_kept)
        log.info("discovery %s %s: %s..%s on %s, %d found, %d queued, skipped %s%s",
                 record.run_id, record.status, start, end, record.provider or "-",
                 record.found, record.queued, record.skipped,
                 f" ({record.error})" if record.error else "")
    return record


def _decide(found: list[Candidate], *, connection: Redis, aoi: BaseGeometry,
            max_cloud: float, model_ref: str, settings: IngestSettings, dsn: str,
            inference: Any, window: tuple[dt.date, dt.date]) -> list[Decision]:
    decisions: dict[str, Decision] = {}

    def decide(candidate_id: str, outcome: str, detail: str = "") -> None:
        decisions[candidate_id] = Decision(candidate_id, outcome, detail)

    by_id: dict[str, Candidate] = {}
    for candidate in found:
        if candidate.id in by_id:
            continue
        by_id[candidate.id] = candidate
        if not candidate.geometry.intersects(aoi):
            decide(candidate.id, OUTSIDE_AOI)
    inside = [c for c in by_id.values() if c.id not in decisions]
    acquisitions = {c.id: acquisition_of(c.id, c.properties, c.level) for c in inside}
    choices = one_per_acquisition(acquisitions.items())
    siblings: dict[str, tuple[str, ...]] = {}
    for choice in choices:
        siblings[choice.chosen] = choice.superseded
        for other in choice.superseded:
            decide(other, DUPLICATE, f"chose {choice.chosen}")
    chosen = [by_id[c.chosen] for c in choices]
    for candidate in chosen:
        if not candidate.cloudless_enough(max_cloud):
            decide(candidate.id, CLOUDY, f"{candidate.cloud_cover:.1f} % > {max_cloud:g} %")
    chosen = [c for c in chosen if c.id not in decisions]
    _published(chosen, acquisitions, decide, model_ref=model_ref, settings=settings, dsn=dsn,
               window=window)
    chosen = [c for c in chosen if c.id not in decisions]
    _in_queue(chosen, siblings, decide, connection=connection, model_ref=model_ref)
    for candidate in (c for c in chosen if c.id not in decisions):
        _enqueue(candidate, decide, connection=connection, model_ref=model_ref,
                 settings=settings, inference=inference)
    return sorted(decisions.values(), key=lambda d: d.product_id)


def _published(chosen: list[Candidate], acquisitions: dict[str, Acquisition | None],
               decide: Callable[..., None], *, model_ref: str, settings: IngestSettings,
               dsn: str, window: tuple[dt.date, dt.date]) -> None:
    if not chosen:
        return
    done = catalogued_products([c.id for c in chosen], model_ref, dsn)
    # Items are dated by their source's sensing time: a day's margin holds every pass.
    lower = dt.datetime.combine(window[0], dt.time(), dt.UTC) - dt.timedelta(days=1)
    upper = dt.datetime.combine(window[1], dt.time(), dt.UTC) + dt.timedelta(days=2)
    catalogued = [(i, a) for i, a in catalogued_acquisitions(model_ref, lower, upper, dsn) if a]
    for candidate in chosen:
        if candidate.id in done:
            decide(candidate.id, PUBLISHED)
            continue
        mine = acquisitions.get(candidate.id)
        if mine is None:
            continue
        same = [(i, a) for i, a in catalogued if a.same_pass(mine)]
        if not same:
            continue
        best_id, best = max(same, key=lambda p: p[1].rank())
        if settings.discovery_requeue_reprocessed and mine.rank() > best.rank():
            continue  # a better product (newer baseline, or L2A after L1C): queued again
        decide(candidate.id, PUBLISHED, f"as {best_id}")


def _in_queue(chosen: list[Candidate], siblings: dict[str, tuple[str, ...]],
              decide: Callable[..., None], *, connection: Redis, model_ref: str) -> None:
    from ingest.orchestration.chain_ids import ChainIds
    from ingest.orchestration.queue import IN_FLIGHT

    for candidate in chosen:
        products = (candidate.id, *siblings.get(candidate.id, ()))
        job_ids = [j for p in products for j in ChainIds.of(p, model_ref)]
        jobs = Job.fetch_many(job_ids, connection=connection)
        busy = next((job for job in jobs if job is not None
                     and job.get_status(refresh=False) in IN_FLIGHT), None)
        if busy is not None:
            decide(candidate.id, IN_QUEUE, busy.id)


def _enqueue(candidate: Candidate, decide: Callable[..., None], *, connection: Redis,
             model_ref: str, settings: IngestSettings, inference: Any) -> None:
    from ingest.discovery import enqueue_candidates

    try:
        [answer] = enqueue_candidates([candidate], model_ref, connection=connection,
                                      ingest=settings, inference=inference)
    except IngestError as exc:  # one unreadable product does not stop the run
        decide(candidate.id, UNREADABLE, str(exc)[:300])
        return
    if answer.state == "queued":
        decide(candidate.id, QUEUED, answer.job_id)
    elif answer.state == "in-flight":
        decide(candidate.id, IN_QUEUE, answer.job_id)
    else:  # its chain finished: published, though not (or no longer) in the catalog
        decide(candidate.id, PUBLISHED, f"chain {answer.job_id} finished")
