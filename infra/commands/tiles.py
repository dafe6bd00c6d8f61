"""`earthsig tiles`: the tiler's shared tile store."""

from __future__ import annotations

import click

from infra.stack import export_stack_env


@click.group()
def tiles() -> None:
    """The tile store where the tiler keeps catalog tiles (EARTHSIG_TILE_STORE_URL)."""


@tiles.command("redraw")
def tiles_redraw() -> None:
    """Have every stored tile of the catalog drawn again on its next request.

    Registrations mark what they change by themselves; this is for what they cannot see, such
    as items written into pgstac by other tools.
    """
    from ingest.catalog.tile_invalidation import redraw_all

    export_stack_env()
    if not redraw_all():
        raise click.UsageError("no tile store configured (EARTHSIG_TILE_STORE_URL)")
    click.echo("every stored tile will be drawn again")


@tiles.command("pyramid")
@click.option("--collection", default="landcover", show_default=True)
@click.option("--tiler", "tiler_url", default=None,
              help="Tiler base URL (default: EARTHSIG_SEED_TILER_URL, else the stack's tiler).")
def tiles_pyramid(collection: str, tiler_url: str | None) -> None:
    """Build a collection's zoom 0-7 pyramid again from all its items.

    The pipeline keeps it current as products land; this is for a catalog registered before
    the pyramid existed, or after items were removed.
    """
    from infra.stack import Stack
    from ingest.catalog.pyramid_update import rebuild_pyramid
    from ingest.settings import IngestSettings

    export_stack_env()
    settings = IngestSettings()
    state = Stack().load()
    tiler = state.services.get("tiler")
    url = tiler_url or settings.seed_tiler_url or (tiler.url if tiler else None)
    if not url:
        raise click.UsageError("no tiler to draw the base tiles: --tiler URL or the stack's")
    count = rebuild_pyramid("", collection, url, settings.assets)
    click.echo(f"{collection}: {count} pyramid tiles drawn")
