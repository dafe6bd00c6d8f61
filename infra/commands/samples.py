"""`earthsig samples`: generated sample products."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click


@click.group()
def samples() -> None:
    """Generated sample products (realistic layout and grid, not real data)."""


@samples.command("make")
@click.option("--tile", default="T31TCJ", show_default=True, help="MGRS tile id.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default="2024-07-01",
              show_default=True)
@click.option("--size", type=int, default=2048, show_default=True, help="Pixels at 10 m.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("samples"),
              show_default=True)
@click.option("--seed", type=int, default=None)
@click.option("--cloud-cover", type=float, default=0.0, show_default=True)
@click.option("--level", type=click.Choice(["L2A", "L1C"]), default="L2A", show_default=True)
@click.option("--layout", type=click.Choice(["cog", "safe"]), default="cog", show_default=True,
              help="cog: earth-search STAC item + COGs; safe: ESA SAFE with JP2 bands.")
@click.option("--baseline", default="05.10", show_default=True,
              help="Processing baseline; from 04.00 DNs carry the -1000 offset.")
@click.option("--zip", "as_zip", is_flag=True, help="SAFE only: write a .zip, not a folder.")
def samples_make(tile: str, day: datetime, size: int, out: Path, seed: int | None,
                 cloud_cover: float, level: str, layout: str, baseline: str,
                 as_zip: bool) -> None:
    """Write one generated Sentinel-2 product and its ground truth; print the path to open."""
    from samples import make_sample_product

    try:
        path = make_sample_product(tile, day.date(), size, out, seed=seed,
                                   cloud_cover=cloud_cover, level=level, layout=layout,
                                   baseline=baseline, as_zip=as_zip)
    except (ValueError, KeyError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(path))
