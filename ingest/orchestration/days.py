"""The pipeline per sensing day and stage: what was discovered, queued, running, done, failed.

A product belongs to the day it was sensed (its acquisition day, read from its id as both the
Copernicus and the earth-search ids carry it): the daily discovery looks for a day's products
after that day, over a look-back window, so a day's work is spread over several days of
queueing and the acquisition day is what operators ask about ("is Monday done?"). A product
whose id carries no date is filed under the day its chain was queued, and its row says so
(``day_of``). Read from RQ's registries (jobs keep their results a week, their failures a
month) and the discovery run log.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)

from ingest.discovery.runs import QUEUED, DiscoveryRunRecord, last_runs, run_decisions
from ingest.orchestration.stages import Stage, cause, queue_name
from ingest.settings import IngestSettings

ACQUISITION, QUEUED_DAY = "acquisition", "queued"
# The first date of the id: S2A_MSIL2A_20240701T103031_..., S2A_31TCJ_20240701_0_L2A.
_SENSED = re.compile(r"_(20\d{6})(?:T\d{6})?_")
STATES = ("queued", "running", "waiting", "failed", "done")
IN_FLIGHT = ("queued", "running", "waiting")
CAUSE_CHARS = 200  # causes are grouped by their text; a long traceback line is cut
FETCH_BATCH = 500


def acquisition_day(product_id: str) -> dt.date | None:
    match = _SENSED.search(product_id)
    if match is None:
        return None
    try:
        return dt.datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return None


@dataclass
class StageCells:
    queued: int = 0
    running: int = 0
    waiting: int = 0  # deferred behind the earlier stage, or scheduled for a retry
    failed: int = 0
    done: int = 0
    causes: dict[str, int] = field(default_factory=dict)  # failure cause -> jobs


@dataclass
class Discovered:
    found: int = 0  # distinct products the shown runs found for the day
    queued: int = 0  # of which some run queued
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> products


@dataclass
class Waiting:
    product_id: str
    stage: str
    queued_at: str
    age_s: float


@dataclass
class Products:
    total: int = 0
    done: int = 0  # published
    in_flight: int = 0  # a stage queued, running or waiting, none failed
    failed: int = 0  # a stage failed for good (it stays until retried)

    @property
    def failed_share(self) -> float:
        return self.failed / self.total if self.total else 0.0


@dataclass
class DayRow:
    day: str
    day_of: str  # ACQUISITION or QUEUED_DAY
    deadline: str
    products: Products = field(default_factory=Products)
    discover: Discovered = field(default_factory=Discovered)
    stages: dict[str, StageCells] = field(
        default_factory=lambda: {s.value: StageCells() for s in Stage})
    oldest_waiting: Waiting | None = None

    @property
    def done(self) -> bool:
        """Nothing of the day left to run (failed products are counted apart)."""
        return self.products.in_flight == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["done"] = self.done
        data["products"]["failed_share"] = round(self.products.failed_share, 4)
        return data


def deadline_of(day: dt.date, settings: IngestSettings) -> dt.datetime:
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return end + dt.timedelta(hours=settings.ops_day_deadline_h)


def _utc(when: dt.datetime | None) -> dt.datetime | None:
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _ids_by_state(queue: Queue) -> dict[str, list[str]]:
    return {
        "queued": queue.get_job_ids(),
        "running": StartedJobRegistry(queue=queue).get_job_ids(),
        "waiting": DeferredJobRegistry(queue=queue).get_job_ids()
        + ScheduledJobRegistry(queue=queue).get_job_ids(),
        "failed": FailedJobRegistry(queue=queue).get_job_ids(),
        "done": FinishedJobRegistry(queue=queue).get_job_ids(),
    }


def _jobs(ids: list[str], connection: Redis) -> list[Job]:
    jobs: list[Job] = []
    for i in range(0, len(ids), FETCH_BATCH):
        jobs.extend(j for j in Job.fetch_many(ids[i:i + FETCH_BATCH], connection=connection)
                    if j is not None)
    return jobs  # a job gone meanwhile (expired, deleted) is simply not counted


def _day_of(product_id: str, job: Job) -> tuple[str, str]:
    sensed = acquisition_day(product_id)
    if sensed is not None:
        return sensed.isoformat(), ACQUISITION
    queued = _utc(job.created_at) or dt.datetime.now(dt.UTC)
    return queued.date().isoformat(), QUEUED_DAY


def _discovered(runs: list[DiscoveryRunRecord], connection: Redis,
                prefix: str) -> dict[str, tuple[str, bool]]:
    """product -> (latest reason, queued by any run), over ``runs`` (newest first)."""
    seen: dict[str, tuple[str, bool]] = {}
    for record in runs:
        for decision in run_decisions(connection, record.run_id, prefix=prefix):
            reason, queued = seen.get(decision.product_id, (decision.outcome, False))
            seen[decision.product_id] = (reason, queued or decision.outcome == QUEUED)
    return seen


class _Days:
    """The rows being filled, by (day, day_of)."""

    def __init__(self, settings: IngestSettings, now: dt.datetime) -> None:
        self.settings, self.now = settings, now
        self.rows: dict[tuple[str, str], DayRow] = {}
        # (day, day_of) -> product -> the states of its stage jobs
        self.states: dict[tuple[str, str], dict[str, set[str]]] = {}
        # ((day, day_of), product) -> when its chain was queued, and a stage waiting
        self.waiting: dict[tuple[tuple[str, str], str], tuple[dt.datetime, Stage]] = {}

    def row(self, key: tuple[str, str]) -> DayRow:
        if key not in self.rows:
            deadline = deadline_of(dt.date.fromisoformat(key[0]), self.settings)
            self.rows[key] = DayRow(day=key[0], day_of=key[1],
                                    deadline=deadline.isoformat(timespec="seconds"))
        return self.rows[key]

    def add_job(self, stage: Stage, state: str, job: Job) -> None:
        product_id = str(job.meta.get("product_id") or job.id)
        key = _day_of(product_id, job)
        cells = self.row(key).stages[stage.value]
        setattr(cells, state, getattr(cells, state) + 1)
        # An earlier stage done is not the product done: only its publish job is.
        self.states.setdefault(key, {}).setdefault(product_id, set()).add(
            state if state != "done" or stage == Stage.PUBLISH else "stage-done")
        if state == "failed":
            text = cause(job)[:CAUSE_CHARS]
            cells.causes[text] = cells.causes.get(text, 0) + 1
        elif state in ("queued", "waiting"):
            created = _utc(job.created_at)
            earliest = self.waiting.get((key, product_id))
            if created is not None and (earliest is None or created < earliest[0]):
                self.waiting[(key, product_id)] = (created, stage)

    def count_products(self) -> None:
        for key, products in self.states.items():
            counts = self.row(key).products
            for product_id, seen in products.items():
                counts.total += 1
                if "failed" in seen:
                    counts.failed += 1  # its later stages wait on it: blocked, not waiting
                elif seen & set(IN_FLIGHT):
                    counts.in_flight += 1
                    # A product with a stage running is being worked on, not waiting.
                    if "running" not in seen and (key, product_id) in self.waiting:
                        _note_waiting(self.row(key), product_id,
                                      *self.waiting[(key, product_id)], self.now)
                elif "done" in seen:
                    counts.done += 1

    def add_discovered(self, product_id: str, reason: str, queued: bool) -> None:
        sensed = acquisition_day(product_id)
        if sensed is None:
            return  # a product without a date has no day before it is queued
        found = self.row((sensed.isoformat(), ACQUISITION)).discover
        found.found += 1
        if queued:
            found.queued += 1
        else:
            found.skipped[reason] = found.skipped.get(reason, 0) + 1


def day_rows(connection: Redis, settings: IngestSettings, *, now: dt.datetime,
             runs: list[DiscoveryRunRecord]) -> list[DayRow]:
    """The ``settings.ops_status_days`` most recent days, newest first."""
    days = _Days(settings, now)
    for stage in Stage:
        queue = Queue(queue_name(stage, settings), connection=connection)
        for state, ids in _ids_by_state(queue).items():
            for job in _jobs(ids, connection):
                days.add_job(stage, state, job)
    days.count_products()
    for product_id, (reason, queued) in _discovered(runs, connection,
                                                     settings.queue_prefix).items():
        days.add_discovered(product_id, reason, queued)
    ordered = sorted(days.rows.values(), key=lambda r: (r.day, r.day_of), reverse=True)
    return ordered[:settings.ops_status_days]


def _note_waiting(row: DayRow, product_id: str, created: dt.datetime, stage: Stage,
                  now: dt.datetime) -> None:
    # The chain's jobs are all created when the product is queued: a later stage's
    # created_at is the product's queueing time too, which is what "waiting" means here.
    if row.oldest_waiting is None \
            or created < dt.datetime.fromisoformat(row.oldest_waiting.queued_at):
        age = max(0.0, (now - created).total_seconds())  # 0 for a "now" set in the past
        row.oldest_waiting = Waiting(product_id, stage.value,
                                     created.isoformat(timespec="microseconds"), round(age, 1))


def discover_jobs(connection: Redis, settings: IngestSettings) -> dict[str, int]:
    """The discovery jobs (the scheduler's and `earthsig discover --queue`'s) per state."""
    from ingest.orchestration.stages import DISCOVER_QUEUE

    queue = Queue(f"{settings.queue_prefix}{DISCOVER_QUEUE}", connection=connection)
    return {state: len(ids) for state, ids in _ids_by_state(queue).items()}


def recent_runs(connection: Redis, settings: IngestSettings) -> list[DiscoveryRunRecord]:
    return last_runs(connection, settings.ops_status_runs, prefix=settings.queue_prefix)


def skipped_total(runs: list[DiscoveryRunRecord]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for record in runs:
        total.update(record.skipped)
    return dict(total)
