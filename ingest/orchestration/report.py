"""Everything `earthsig status` and GET /status show, as one JSON-able report.

The queue's totals (``monitor.pipeline_status``), the days (``days``), the discovery runs and
the alert (``alerts``). The shape is documented in docs/operations.md ("Watching the day");
keys are only ever added.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis import Redis

from ingest.discovery.runs import run_totals
from ingest.orchestration.alerts import alert
from ingest.orchestration.days import day_rows, discover_jobs, recent_runs
from ingest.orchestration.monitor import pipeline_status
from ingest.settings import IngestSettings


def status_report(connection: Redis, settings: IngestSettings | None = None, *,
                  max_failures: int = 10, now: dt.datetime | None = None) -> dict[str, Any]:
    settings = settings or IngestSettings()
    now = now or dt.datetime.now(dt.UTC)
    runs = recent_runs(connection, settings)
    days = day_rows(connection, settings, now=now, runs=runs)
    report = pipeline_status(connection, settings, max_failures=max_failures).to_dict()
    run_fields = ("run_id", "started_at", "ended_at", "status", "window", "provider", "found",
                  "queued", "skipped", "error")
    report.update({
        "generated_at": now.isoformat(timespec="seconds"),
        "days": [row.to_dict() for row in days],
        "discovery": {
            "runs": [{k: v for k, v in r.to_dict().items() if k in run_fields}
                     for r in runs],
            "totals": run_totals(connection, prefix=settings.queue_prefix),
            "jobs": discover_jobs(connection, settings),
        },
        "alert": alert(days, runs, settings, now).to_dict(),
    })
    return report
