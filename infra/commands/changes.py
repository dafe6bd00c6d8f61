"""`earthsig changes`: land-cover change between acquisitions of a tile, and alerts on it."""

from __future__ import annotations

import json
from datetime import date

import click

from infra.stack import export_stack_env


def _day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    from ingest.derived.landcover_change import as_day

    try:
        return as_day(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.group(invoke_without_command=True)
@click.option("--tile", help="MGRS tile, e.g. 32TQM.")
@click.option("--before", callback=_day, help="Pair: the latest acquisition on or before it.")
@click.option("--after", callback=_day, help="Pair: the earliest acquisition on or after it.")
@click.option("--at", callback=_day,
              help="Composite: per pixel the latest clear class before AT against the latest "
                   "clear class from AT on.")
@click.option("--items", nargs=2, default=None, help="Two landcover item ids: before, after.")
@click.option("--model", default=None, help="NAME:VERSION of the landcover items to compare.")
@click.option("--publish", is_flag=True, help="Publish as an item of the `changes` collection.")
@click.option("--json", "as_json", is_flag=True, help="Print the transition table as JSON.")
@click.pass_context
def changes(ctx: click.Context, tile: str | None, before: date | None, after: date | None,
            at: date | None, items: tuple[str, str] | None, model: str | None,
            publish: bool, as_json: bool) -> None:
    """From -> to land-cover transitions of a tile and their areas (hectares).

    \b
    earthsig changes --tile 32TQM --before 2024-06-01 --after 2024-07-01 [--publish]
    earthsig changes --tile 32TQM --at 2024-06-15
    earthsig changes alerts --from 2024-06-01 --to 2024-07-31 --transition forest:burnt --min-ha 5
    """
    if ctx.invoked_subcommand is not None:
        return
    from ingest.derived.landcover_change import detect_changes
    from ingest.errors import InvalidProductError

    export_stack_env()
    try:
        result = detect_changes(items=items or None, tile=tile, before=before, after=after,
                                at=at, model=model, publish=publish)
    except (InvalidProductError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"item": result.item.id if result.item else None,
                               "transitions": [t.as_property() for t in result.transitions]},
                              indent=2))
        return
    from catalog_schemas import clc

    inputs = result.inputs
    click.echo(f"{inputs.tile} {inputs.mode} {result.start:%Y-%m-%d} -> {result.end:%Y-%m-%d} "
               f"({inputs.model}); before {[i.id for i in inputs.before]}, after "
               f"{[i.id for i in inputs.after]}")
    click.echo(f"{'from':>4} -> {'to':<4} {'hectares':>10} {'pixels':>9}  classes")
    for t in result.changed:
        click.echo(f"{t.from_code:>4} -> {t.to_code:<4} {t.area_ha:10.2f} {t.pixels:9}  "
                   f"{clc.by_clc_code(t.from_code).name} -> {clc.by_clc_code(t.to_code).name}")
    unchanged = sum(t.area_ha for t in result.transitions if t.from_code == t.to_code)
    click.echo(f"unchanged {unchanged:.2f} ha; changed {sum(t.area_ha for t in result.changed):.2f}"
               f" ha of {result.valid_pixels * result.pixel_area_m2 / 10_000:.2f} ha seen twice")
    if result.item is not None:
        click.echo(f"published {result.item.id}")


@changes.command("alerts")
@click.option("--from", "start", callback=_day, required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "end", callback=_day, required=True, help="Last day (YYYY-MM-DD).")
@click.option("--transition", required=True,
              help="FROM:TO class groups: CLC codes, prefixes or names (forest:burnt, 31:334).")
@click.option("--min-ha", type=float, default=0.0, show_default=True,
              help="Smallest connected region reported, hectares.")
@click.option("--tile", default=None, help="Only this MGRS tile.")
@click.option("--json", "as_json", is_flag=True)
def changes_alerts(start: date, end: date, transition: str, min_ha: float,
                   tile: str | None, as_json: bool) -> None:
    """Connected regions of a transition in the published change items, largest first."""
    from ingest.derived.landcover_change import alerts

    export_stack_env()
    try:
        found = alerts(start, end, transition, min_ha=min_ha, tile=tile)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps([a.as_dict() for a in found], indent=2))
        return
    for a in found:
        click.echo(f"{a.item_id}  {a.area_ha:9.2f} ha  {','.join(a.transitions)}  "
                   f"bbox {','.join(f'{v:.5f}' for v in a.bbox)}")
    click.echo(f"{len(found)} region(s) of {transition} of at least {min_ha} ha")
