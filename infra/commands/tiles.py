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
