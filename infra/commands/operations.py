"""`earthsig backfill | reprocess | retire | scheduler`: the pipeline over time."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import click

from infra.stack import export_stack_env

if TYPE_CHECKING:
    from redis import Redis

DATE = click.DateTime(["%Y-%m-%d"])


def _redis() -> Redis:
    from redis import Redis

    from ingest.settings import IngestSettings

    return Redis.from_url(IngestSettings().redis_url)


def _bbox(value: str | None) -> list[float] | None:
    if not value:
        return None
    parts = [float(v) for v in value.split(",")]
    if len(parts) != 4:
        raise click.BadParameter("bbox is minx,miny,maxx,maxy")
    return parts


@click.command()
@click.option("--from", "start", type=DATE, required=True, help="First sensing day.")
@click.option("--to", "end", type=DATE, required=True, help="Last sensing day.")
@click.option("--aoi", default="europe", show_default=True)
@click.option("--max-cloud", type=click.FloatRange(0, 100), default=60.0, show_default=True)
@click.option("--provider", default=None, help="EODAG provider (default: earth_search).")
@click.option("--level", type=click.Choice(["L2A", "L1C"]), default="L2A", show_default=True)
@click.option("--model", "model_ref", default=None)
def backfill(start: datetime, end: datetime, aoi: str, max_cloud: float, provider: str | None,
             level: str, model_ref: str | None) -> None:
    """Discover and queue every day of a date range."""
    from ingest.errors import IngestError
    from ingest.orchestration.operations import discover_days

    export_stack_env()
    try:
        run = discover_days(start.date(), end.date(), connection=_redis(), aoi=aoi,
                            max_cloud=max_cloud, provider=provider, level=level,
                            model_ref=model_ref)
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(run.days)} day(s): {run.found} found, {run.skipped} already catalogued, "
               f"{len(run.queued)} queued")


@click.command()
@click.option("--model", "model_ref", required=True, help="The new NAME:VERSION.")
@click.option("--from-model", "source_model", default=None,
              help="Only products catalogued by this NAME:VERSION (default: any).")
@click.option("--bbox", default=None, help="minx,miny,maxx,maxy (lon/lat).")
@click.option("--from", "start", type=DATE, default=None)
@click.option("--to", "end", type=DATE, default=None)
def reprocess(model_ref: str, source_model: str | None, bbox: str | None,
              start: datetime | None, end: datetime | None) -> None:
    """Queue every catalogued product again for a new model version."""
    from ingest.orchestration.operations import reprocess as run

    export_stack_env()
    queued = run(model_ref, connection=_redis(), source_model=source_model, bbox=_bbox(bbox),
                 start=start.date() if start else None, end=end.date() if end else None)
    click.echo(f"{len(queued)} product(s) queued for {model_ref}")


@click.command()
@click.option("--model", "model_ref", required=True, help="NAME:VERSION to retire.")
@click.confirmation_option(prompt="Remove every item and file of this model version?")
def retire(model_ref: str) -> None:
    """Remove the items and files of a model version from the catalog."""
    from ingest.orchestration.operations import retire as run

    export_stack_env()
    click.echo(f"retired {len(run(model_ref))} item(s) of {model_ref}")


@click.command()
@click.option("--cron", default="0 6 * * *", show_default=True,
              help="When the daily discovery runs (UTC, cron syntax).")
@click.option("--days-back", type=int, default=1, show_default=True,
              help="The last day of each run's window, in days before today.")
@click.option("--aoi", default="europe", show_default=True)
@click.option("--max-cloud", type=float, default=60.0, show_default=True)
def scheduler(cron: str, days_back: int, aoi: str, max_cloud: float) -> None:
    """Run RQ's cron scheduler: queue the daily discovery, which looks back over
    EARTHSIG_DISCOVERY_LOOKBACK_DAYS days (more after failed runs) and tries the providers of
    EARTHSIG_DISCOVERY_PROVIDERS in order (docs/operations.md, "Daily discovery")."""
    from rq.cron import CronScheduler

    from ingest.orchestration.operations import daily_discovery
    from ingest.orchestration.stages import DISCOVER_QUEUE
    from ingest.settings import IngestSettings

    export_stack_env()
    cron_scheduler = CronScheduler(connection=_redis(), name="earthsig-daily")
    queue = f"{IngestSettings().queue_prefix}{DISCOVER_QUEUE}"
    cron_scheduler.register(daily_discovery, queue_name=queue, cron=cron,
                            kwargs={"days_back": days_back, "aoi": aoi, "max_cloud": max_cloud},
                            job_timeout=3600, name="daily-discovery")
    click.echo(json.dumps({"cron": cron, "queue": queue, "days_back": days_back}))
    cron_scheduler.start()
