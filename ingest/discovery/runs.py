"""The log of discovery runs: what each found, skipped (and why) and queued, or why it failed.

Kept in Redis, beside RQ's registries and ``earthsig:published`` that ``status`` reads already:
a run is operational state of the queue, not catalog content, so it stays out of pgstac's
schema (which pypgstac migrates). One list holds the runs' summaries, newest first and trimmed
to ``keep``; each run's per-product decisions (thousands over a look-back window of Europe) go
in a hash of their own that expires, so the log stays small. Redis without persistence loses
the log on a restart; the next run then looks back over the plain window (``window_start``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from redis import Redis

DETAILS_TTL_S = 14 * 86400
QUEUED = "queued"
# Why a product found is not queued.
CLOUDY = "cloudy"
OUTSIDE_AOI = "outside AOI"
DUPLICATE = "duplicate acquisition"
PUBLISHED = "already published"
IN_QUEUE = "already queued"
UNREADABLE = "unreadable"  # its item could not be read when queued
REASONS = (CLOUDY, OUTSIDE_AOI, DUPLICATE, PUBLISHED, IN_QUEUE, UNREADABLE)


@dataclass
class Attempt:
    """One search of one provider (each level it offers), and how it ended."""

    provider: str
    ok: bool
    error: str = ""


@dataclass
class Decision:
    product_id: str
    outcome: str  # QUEUED or one of REASONS
    detail: str = ""  # the chosen product of a duplicate, the catalogued id...


@dataclass
class DiscoveryRunRecord:
    """A run: ``status`` is "ok" or "failed" (every provider failed: nothing was queued)."""

    run_id: str
    started_at: str
    ended_at: str
    status: str
    window: tuple[str, str]  # first and last sensing day looked at (UTC, inclusive)
    model: str
    provider: str = ""  # the one that answered
    attempts: list[Attempt] = field(default_factory=list)
    found: int = 0
    queued: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiscoveryRunRecord:
        return cls(**{**data, "window": tuple(data["window"]),
                      "attempts": [Attempt(**a) for a in data.get("attempts", [])]})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _keys(prefix: str) -> tuple[str, str, str]:
    base = f"earthsig:{prefix}discovery"
    return f"{base}:runs", f"{base}:totals", f"{base}:run:"


def record_run(connection: Redis, record: DiscoveryRunRecord, decisions: list[Decision], *,
               prefix: str = "", keep: int = 200) -> None:
    """Append ``record`` to the log (with its decisions); count it as ok or failed."""
    runs, totals, details = _keys(prefix)
    with connection.pipeline() as pipe:
        pipe.lpush(runs, json.dumps(record.to_dict()))
        pipe.ltrim(runs, 0, keep - 1)
        pipe.hincrby(totals, record.status, 1)
        if decisions:
            key = details + record.run_id
            pipe.hset(key, mapping={d.product_id: json.dumps([d.outcome, d.detail])
                                    for d in decisions})
            pipe.expire(key, DETAILS_TTL_S)
        pipe.execute()


def last_runs(connection: Redis, count: int = 10, *,
              prefix: str = "") -> list[DiscoveryRunRecord]:
    """The last ``count`` runs, newest first (what ``earthsig status`` shows)."""
    runs, _, _ = _keys(prefix)
    return [DiscoveryRunRecord.from_dict(json.loads(raw))
            for raw in connection.lrange(runs, 0, count - 1)]


def run_totals(connection: Redis, *, prefix: str = "") -> dict[str, int]:
    """How many runs ended ok and failed, ever (the log itself is trimmed)."""
    _, totals, _ = _keys(prefix)
    counts = {_text(k): int(v) for k, v in connection.hgetall(totals).items()}
    return {"ok": counts.get("ok", 0), "failed": counts.get("failed", 0)}


def run_decisions(connection: Redis, run_id: str, *, prefix: str = "") -> list[Decision]:
    """What a run decided for each product it found (for two weeks)."""
    _, _, details = _keys(prefix)
    decisions = []
    for product_id, raw in sorted(connection.hgetall(details + run_id).items()):
        outcome, detail = json.loads(raw)
        decisions.append(Decision(_text(product_id), outcome, detail))
    return decisions


def last_successful_end(connection: Redis, *, prefix: str = "",
                        scan: int = 200) -> dt.date | None:
    """The last sensing day covered by the newest successful run in the log."""
    for record in last_runs(connection, scan, prefix=prefix):
        if record.ok:
            return dt.date.fromisoformat(record.window[1])
    return None


def window_start(end: dt.date, lookback_days: int, last_ok_end: dt.date | None,
                 max_catchup_days: int) -> dt.date:
    """The first sensing day a run ending at ``end`` looks at.

    ``lookback_days`` days, and, after runs that failed, back far enough that every day the
    missed runs would have looked at is looked at now: a run ending at ``e`` covered down to
    ``e - lookback + 1``, so the days after the last successful run's end ``E`` would have
    been covered down to ``E - lookback + 2``. Never more than ``max_catchup_days`` days.
    """
    start = end - dt.timedelta(days=lookback_days - 1)
    if last_ok_end is not None and last_ok_end < end:
        start = min(start, last_ok_end - dt.timedelta(days=lookback_days - 2))
    return max(start, end - dt.timedelta(days=max_catchup_days - 1))
