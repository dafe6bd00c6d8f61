"""`earthsig timeseries`: the land cover at a point, or in a polygon, acquisition by acquisition."""

from __future__ import annotations

import json
from pathlib import Path

import click

from infra.stack import export_stack_env


@click.command()
@click.option("--lon", type=click.FloatRange(-180, 180), default=None, help="Point longitude.")
@click.option("--lat", type=click.FloatRange(-90, 90), default=None, help="Point latitude.")
@click.option("--geometry", "geometry_file", type=click.Path(exists=True, dir_okay=False,
                                                             path_type=Path),
              default=None, help="A GeoJSON file: Polygon, MultiPolygon or a Feature of one.")
@click.option("--from", "start", default=None, help="First day (ISO, e.g. 2024-06-01).")
@click.option("--to", "end", default=None, help="Last day (ISO).")
@click.option("--collection", default="landcover", show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of JSON.")
def timeseries(lon: float | None, lat: float | None, geometry_file: Path | None,
               start: str | None, end: str | None, collection: str, as_csv: bool) -> None:
    """Per acquisition: class, confidence and cloud at --lon/--lat, or class fractions and
    coverage in the polygon of --geometry (clouded and nodata pixels excluded)."""
    from tiler.errors import TilerServiceError
    from tiler.paths import AssetRoots
    from tiler.settings import TilerSettings
    from tiler.timeseries import area_series, connect, point_series
    from tiler.timeseries_csv import area_csv, point_csv

    point = lon is not None or lat is not None
    if point == (geometry_file is not None) or (point and (lon is None or lat is None)):
        raise click.UsageError("give either --lon and --lat, or --geometry FILE")
    export_stack_env()
    roots = AssetRoots(TilerSettings().allowed_asset_roots)
    try:
        with connect("") as conn:
            if geometry_file is not None:
                try:
                    geojson = json.loads(geometry_file.read_text(encoding="utf-8"))
                except ValueError as exc:
                    raise click.ClickException(f"{geometry_file} is not JSON: {exc}") from exc
                found = area_series(conn, geojson, roots, start=start, end=end,
                                    collection=collection)
                click.echo(area_csv(found) if as_csv else found.model_dump_json(indent=2),
                           nl=not as_csv)
            else:
                assert lon is not None and lat is not None
                found_point = point_series(conn, lon, lat, roots, start=start, end=end,
                                           collection=collection)
                click.echo(point_csv(found_point) if as_csv
                           else found_point.model_dump_json(indent=2), nl=not as_csv)
    except TilerServiceError as exc:
        raise click.ClickException(str(exc)) from exc
