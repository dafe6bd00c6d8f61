"""`earthsig status` and `earthsig retry-failed`: watching and nudging the pipeline."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

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
@click.option("--check", is_flag=True,
              help="Exit 1 when the alert is raised (a day late, too many failures, the last "
              "discovery run failed): for cron, a probe or a pager.")
def status(as_json: bool, check: bool) -> None:
    """Jobs per state and stage, per sensing day; the last discovery runs; the alert."""
    from ingest.orchestration.report import status_report

    report = status_report(_connection())
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print(report)
    if check and report["alert"]["active"]:
        sys.exit(1)


def _print(report: dict[str, Any]) -> None:
    cells = ("queued", "running", "waiting", "failed", "done")
    click.echo(f"{'stage':<8} " + " ".join(f"{c:>7}" for c in cells))
    for stage, c in report["stages"].items():
        click.echo(f"{stage:<8} " + " ".join(f"{c[k]:>7}" for k in cells))
    click.echo(f"\npublished: {report['published_last_hour']} in the last hour, "
               f"{report['published_last_day']} in the last day")
    for day in report["days"]:
        p = day["products"]
        click.echo(f"\nday {day['day']} (by {day['day_of']} day): {p['total']} product(s), "
                   f"{p['done']} done, {p['in_flight']} in flight, {p['failed']} failed; "
                   f"{'done' if day['done'] else 'not done'}, deadline {day['deadline']}")
        d = day["discover"]
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(d["skipped"].items()))
        click.echo(f"  {'discover':<8} found {d['found']}, queued {d['queued']}"
                   + (f", skipped {skipped}" if skipped else ""))
        for stage, c in day["stages"].items():
            click.echo(f"  {stage:<8} " + " ".join(f"{k} {c[k]}" for k in cells))
            for why, n in sorted(c["causes"].items(), key=lambda kv: -kv[1]):
                click.echo(f"    {n} x {why}")
        if day["oldest_waiting"]:
            w = day["oldest_waiting"]
            click.echo(f"  oldest waiting: {w['product_id']} ({w['stage']}), queued "
                       f"{w['queued_at']}, {w['age_s'] / 3600:.1f} h ago")
    discovery = report["discovery"]
    totals = discovery["totals"]
    click.echo(f"\ndiscovery runs: {totals['ok']} ok, {totals['failed']} failed ever; jobs "
               + ", ".join(f"{k} {v}" for k, v in discovery["jobs"].items()))
    for run in discovery["runs"]:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(run["skipped"].items()))
        click.echo(f"  {run['ended_at'] or '?':<26} {run['status']:<6} "
                   f"{run['window'][0]}..{run['window'][1]} {run['provider'] or '-'}: "
                   f"found {run['found']}, queued {run['queued']}"
                   + (f", skipped {skipped}" if skipped else "")
                   + (f" ({run['error']})" if run["error"] else ""))
    if report["failures"]:
        click.echo("\nlatest failures:")
        for f in report["failures"]:
            click.echo(f"  {f['ended_at'] or '?':<32} {f['stage']:<8} {f['product_id']}: "
                       f"{f['cause']}")
    alert = report["alert"]
    click.echo(f"\nalert: {'RAISED' if alert['active'] else 'none'}")
    for reason in alert["reasons"]:
        click.echo(f"  [{reason['kind']}] {reason['message']}")


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
