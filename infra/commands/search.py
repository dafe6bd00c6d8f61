"""`earthsig search "vineyards near Bordeaux in June 2025"`: text search over the catalog."""

from __future__ import annotations

import json

import click

from infra.commands.search_links import absolute_links, default_api_url
from infra.stack import export_stack_env


@click.command()
@click.argument("text")
@click.option("--collection", "collections", multiple=True, help="Collection id (repeatable).")
@click.option("--limit", type=click.IntRange(1, 10000), default=10, show_default=True)
@click.option("--min-fraction", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="One named class must cover at least this share of an item's valid pixels.")
@click.option("--radius-km", type=click.FloatRange(0, 500, min_open=True), default=25.0,
              show_default=True, help="Half the side of the box searched around a city.")
@click.option("--json", "as_json", is_flag=True, help="Print the FeatureCollection as JSON.")
@click.option("--api-url", envvar="EARTHSIG_STAC_API_URL", default=None,
              help="STAC API the --json links point to (default: the stack's).")
def search(text: str, collections: tuple[str, ...], limit: int, min_fraction: float | None,
           radius_km: float, as_json: bool, api_url: str | None) -> None:
    """Search the catalog with a sentence: land-cover classes, a place and dates in words."""
    from stac_api.text_search import InvalidTextQuery, interpret
    from stac_api.text_search.route import search_catalog

    export_stack_env()
    try:
        query = interpret(text, radius_km)
    except InvalidTextQuery as exc:
        raise click.ClickException(str(exc)) from exc
    found = search_catalog("", query, list(collections) or None,
                           limit, min_fraction)
    if as_json:
        query_params = {"q": text, "collections": ",".join(collections) or None,
                        "limit": limit, "min_fraction": min_fraction, "radius_km": radius_km}
        found = absolute_links(found, api_url or default_api_url(), query_params)
        click.echo(json.dumps(found, indent=2, default=str))
        return
    understood = found["query"]
    for term in understood["classes"]:
        names = ", ".join(f"{c} {n}" for c, n in zip(term["codes"], term["names"], strict=True))
        click.echo(f"class   {term['text']!r}: {names}")
    for place in understood["places"]:
        click.echo(f"place   {place['text']!r}: {place['name']} ({place['kind']}"
                   f"{', ' + place['country'] if place['country'] else ''}), bbox "
                   f"{', '.join(str(v) for v in place['bbox'])}")
    for interval in understood["dates"]:
        click.echo(f"dates   {interval['text']!r}: {interval['start'] or '..'} / "
                   f"{interval['end'] or '..'}")
    if understood["ignored"]:
        click.echo(f"ignored {' '.join(understood['ignored'])}")
    if understood["unknown"]:
        click.echo(f"unknown {' '.join(understood['unknown'])}")
    for feature in found.get("features") or []:
        click.echo(f"{feature['id']}\t{feature['properties'].get('datetime')}")
    click.echo(f"{len(found.get('features') or [])} items", err=True)
