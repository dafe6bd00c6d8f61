"""`earthsig discover`: find new Sentinel-2 products with EODAG; list or queue them."""

from __future__ import annotations

import json
from datetime import datetime

import click

from infra.stack import export_stack_env


@click.command()
@click.option("--date", "start", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="First sensing day (UTC).")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last sensing day (default: --date).")
@click.option("--aoi", default="europe", show_default=True, help="europe, or a GeoJSON file.")
@click.option("--max-cloud", type=click.FloatRange(0, 100), default=60.0, show_default=True)
@click.option("--provider", default="earth_search", show_default=True,
              help="An EODAG provider (credentials through EODAG's own configuration).")
@click.option("--level", type=click.Choice(["L2A", "L1C"]), default="L2A", show_default=True)
@click.option("--model", "model_ref", default=None, help="NAME[:VERSION] (default: active).")
@click.option("--enqueue", is_flag=True, help="Queue the new products for processing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def discover(start: datetime, end: datetime | None, aoi: str, max_cloud: float, provider: str,
             level: str, model_ref: str | None, enqueue: bool, as_json: bool) -> None:
    """Search PROVIDER for products over the AOI; skip those already catalogued."""
    from redis import Redis

    from inference.errors import InferenceError
    from inference.repository import ModelRepository
    from inference.settings import InferenceSettings
    from ingest import discovery
    from ingest.errors import IngestError
    from ingest.settings import IngestSettings

    export_stack_env()
    settings, inference = IngestSettings(), InferenceSettings()
    try:
        model = ModelRepository.from_settings(inference).resolve(
            model_ref or inference.default_model).spec.ref
        found = discovery.discover(
            discovery.make_gateway(), start=start.date(), end=(end or start).date(),
            aoi=discovery.load_aoi(aoi), max_cloud=max_cloud, model_ref=model,
            provider=provider, level=level)
        queued = discovery.enqueue_candidates(
            found.new, model, connection=Redis.from_url(settings.redis_url)) if enqueue else []
    except (IngestError, InferenceError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"model": model, "new": [c.as_dict() for c in found.new],
                               "skipped": [c.id for c in found.skipped],
                               "queued": [q.job_id for q in queued]}, indent=2))
        return
    for c in found.new:
        cloud = "-" if c.cloud_cover is None else f"{c.cloud_cover:5.1f}"
        click.echo(f"{c.id}\t{c.datetime}\t{cloud}\t{'cog' if c.streamable else 'zip'}")
    click.echo(f"{len(found.new)} new, {len(found.skipped)} already catalogued for {model}"
               + (f", {len(queued)} queued" if enqueue else ""), err=True)
