"""`earthsig status` and `earthsig retry-failed`: watching and nudging the pipeline."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from infra.stack import export_stack_env

if TYPE_CHECKING:
    from redis import Redis


def _connection() -> Redis:
    from redis import Redis

    from ingest.settings import IngestSettings

    export_stack_env()
    return Redis.from_url(IngestSettings().redis_url)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Jobs per state and stage, products published per hour and day, latest failures."""
    from ingest.orchestration.monitor import pipeline_status

    report = pipeline_status(_connection())
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(f"{'stage':<8} {'queued':>7} {'running':>8} {'waiting':>8} {'failed':>7} "
               f"{'done':>6}")
    for stage, c in report.stages.items():
        click.echo(f"{stage:<8} {c.queued:>7} {c.running:>8} {c.waiting:>8} {c.failed:>7} "
                   f"{c.done:>6}")
    click.echo(f"\npublished: {report.published_last_hour} in the last hour, "
               f"{report.published_last_day} in the last day")
    if report.failures:
        click.echo("\nlatest failures:")
        for f in report.failures:
            click.echo(f"  {f.ended_at or '?':<32} {f.stage:<8} {f.product_id}: {f.cause}")


@click.command("retry-failed")
@click.option("--stage", "stages", multiple=True, type=click.Choice(["fetch", "infer", "publish"]))
def retry_failed(stages: tuple[str, ...]) -> None:
    """Requeue failed jobs (of the given stages; default all)."""
    from ingest.orchestration.monitor import retry_failed as requeue
    from ingest.orchestration.stages import Stage

    ids = requeue(_connection(), stages=[Stage(s) for s in stages] or None)
    click.echo(f"requeued {len(ids)} job(s)")
    for job_id in ids:
        click.echo(f"  {job_id}")
