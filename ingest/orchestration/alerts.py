"""When operators must look: the alert of `earthsig status --check` and GET /status.

Three conditions, each a reason of its own so that a pager message says what is wrong: a
sensing day still has work queued, waiting or running after its deadline (the pipeline is
behind, or something is stuck); more than a share of a day's products failed for good (bad
inputs, a broken model, a store that refuses writes); the last discovery run failed (every
provider down: nothing new is being queued, and nothing else would show it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from ingest.discovery.runs import DiscoveryRunRecord
from ingest.orchestration.days import DayRow
from ingest.settings import IngestSettings

LATE, FAILURES, DISCOVERY = "late", "failures", "discovery"


@dataclass
class Reason:
    kind: str  # LATE, FAILURES or DISCOVERY
    message: str
    day: str | None = None
    run_id: str | None = None


@dataclass
class Alert:
    reasons: list[Reason] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"active": self.active, "reasons": [asdict(r) for r in self.reasons]}


def alert(days: list[DayRow], runs: list[DiscoveryRunRecord], settings: IngestSettings,
          now: dt.datetime) -> Alert:
    found = Alert()
    for row in days:
        deadline = dt.datetime.fromisoformat(row.deadline)
        if not row.done and now >= deadline:
            late_h = (now - deadline).total_seconds() / 3600
            found.reasons.append(Reason(
                LATE, f"{row.day}: {row.products.in_flight} product(s) not done "
                f"{late_h:.1f} h after the deadline {row.deadline}", day=row.day))
        share = row.products.failed_share
        if share > settings.ops_max_failed_share:
            found.reasons.append(Reason(
                FAILURES, f"{row.day}: {row.products.failed} of {row.products.total} "
                f"product(s) failed ({share:.0%} > {settings.ops_max_failed_share:.0%})",
                day=row.day))
    if runs and not runs[0].ok:
        last = runs[0]
        found.reasons.append(Reason(
            DISCOVERY, f"the last discovery run ({last.ended_at}) failed: "
            f"{last.error or 'no error recorded'}", run_id=last.run_id))
    return found
