"""The land cover as vectors: GeoJSON of an area and Mapbox vector tiles, from the items'
polygons assets (issue 21, point 5), on a real tiler over a real pgstac."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import mapbox_vector_tile
import pytest
import shapely
from affine import Affine
from rasterio.crs import CRS

from catalog_schemas import clc
from catalog_schemas.assets import POLYGONS_ASSET
from catalog_schemas.collections import landcover_collection
from ingest.outputs.vectors import vectorise, write_polygons
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import (
    FOREST,
    FOREST_SPOT,
    ORIGIN,
    PIXEL,
    WATER,
    WATER_SPOT,
    halves,
    item_dict,
    load,
    write_cog,
)
from tests.tiles import tile_of

PASTURE = clc.grid_code_of(231)
TRANSFORM = Affine(PIXEL, 0.0, ORIGIN[0], 0.0, -PIXEL, ORIGIN[1])


def _item(folder: Path, item_id: str, left: int, right: int, day: int) -> dict:
    folder.mkdir()
    cog = write_cog(folder / "landcover.tif", left=left, right=right)
    polygons = write_polygons(vectorise(halves(left, right), transform=TRANSFORM,
                                        crs=CRS.from_epsg(32631)), folder / "polygons.parquet")
    item = item_dict(cog, item_id, datetime(2024, 6, day, 10, 46, tzinfo=UTC))
    item["assets"][POLYGONS_ASSET] = {"href": str(polygons), "roles": ["data"],
                                      "type": "application/vnd.apache.parquet"}
    return item


@pytest.fixture
def tiler(pg_env: dict[str, str], pgstac_dsn: str, tmp_path: Path) -> Iterator[str]:
    """An older item (water | forest) and a newer one (pasture | forest) on one footprint."""
    older = _item(tmp_path / "older", "older", WATER, FOREST, 1)
    newer = _item(tmp_path / "newer", "newer", PASTURE, FOREST, 2)
    load(pgstac_dsn, [landcover_collection().to_dict()], [older, newer])
    env = {**pg_env, "EARTHSIG_TILER_ASSET_ROOTS": str(tmp_path)}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        yield url


def _around(spot: object, d: float = 0.002) -> str:
    lon, lat = spot.lon, spot.lat  # type: ignore[attr-defined]
    return f"{lon - d},{lat - d},{lon + d},{lat + d}"


def _class_at(features: list[dict], lon: float, lat: float) -> set[int]:
    point = shapely.Point(lon, lat)
    return {f["properties"]["clc_code"] for f in features
            if shapely.geometry.shape(f["geometry"]).contains(point)}


def test_the_mosaics_polygons_show_the_newest_item(tiler: str) -> None:
    """Where the newer item has polygons the older one's are left out (the mosaic's rule);
    features carry class, name and colour, clipped to the bbox."""
    answer = httpx.get(f"{tiler}/collections/landcover/polygons.geojson",
                       params={"bbox": _around(WATER_SPOT, 0.02)})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    features = answer.json()["features"]
    assert _class_at(features, WATER_SPOT.lon, WATER_SPOT.lat) == {231}  # pasture, newer
    assert {f["properties"]["item"] for f in features} == {"newer"}
    pasture = next(f for f in features if f["properties"]["clc_code"] == 231)
    assert pasture["properties"]["name"] == clc.by_clc_code(231).name
    assert pasture["properties"]["color"] == f"#{clc.by_clc_code(231).hex_color}"
    box = shapely.box(*map(float, _around(WATER_SPOT, 0.02).split(",")))
    for f in features:
        assert box.buffer(1e-9).contains(shapely.geometry.shape(f["geometry"]))
    # One item asked for by id: its own polygons, water where the mosaic shows pasture.
    older = httpx.get(f"{tiler}/collections/landcover/items/older/polygons.geojson",
                      params={"bbox": _around(WATER_SPOT)}).json()["features"]
    assert _class_at(older, WATER_SPOT.lon, WATER_SPOT.lat) == {512}


def test_vector_tiles_carry_the_classes(tiler: str) -> None:
    tile = tile_of(FOREST_SPOT, 14)
    answer = httpx.get(f"{tiler}/collections/landcover/polygons/tiles/WebMercatorQuad/"
                       f"{tile.z}/{tile.x}/{tile.y}.mvt")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = mapbox_vector_tile.decode(answer.content)["landcover"]
    assert all(f["properties"]["color"].startswith("#") for f in layer["features"])
    # The spot, in the tile's 4096 grid (y up, as decode answers): inside a forest polygon.
    from tiler.vectors import WEB_MERCATOR

    box = WEB_MERCATOR.xy_bounds(tile)
    x, y = WEB_MERCATOR.xy(FOREST_SPOT.lon, FOREST_SPOT.lat)
    spot = shapely.Point(4096 * (x - box.left) / (box.right - box.left),
                         4096 * (y - box.bottom) / (box.top - box.bottom))
    under = {f["properties"]["clc_code"] for f in layer["features"]
             if shapely.geometry.shape(f["geometry"]).contains(spot)}
    assert under == {311}


@pytest.mark.parametrize(("path", "params", "status", "says"), [
    # Malformed boxes are refused by titiler-pgstac's own bbox parameter first (422).
    ("polygons.geojson", {"bbox": "1,2,3"}, 422, "bbox"),
    ("polygons.geojson", {"bbox": "2,44,1,45"}, 422, "bbox"),
    ("items/older/polygons.geojson", {"bbox": "2,44,1,45"}, 400, "west < east"),
    ("items/older/polygons.geojson", {"bbox": "a,b,c,d"}, 400, "west,south,east,north"),
    ("polygons.geojson", {"bbox": "0,40,5,45"}, 400, "square degrees"),
    ("polygons/tiles/WebMercatorQuad/5/16/11.mvt", {}, 400, "minimum zoom"),
])
def test_bad_requests_are_named(tiler: str, path: str, params: dict, status: int,
                                says: str) -> None:
    answer = httpx.get(f"{tiler}/collections/landcover/{path}", params=params)
    assert answer.status_code == status and says in answer.text, answer.text
