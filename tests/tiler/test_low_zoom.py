"""Low zooms: class colours survive (overviews by MODE); mosaics below their minzoom are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest

from catalog_schemas.clc import colormap
from catalog_schemas.collections import landcover_collection
from tests.tiler.landcover_data import WATER, WATER_SPOT, item_dict, load, write_layer
from tests.tiles import decode_png, tile_of, tile_url

SPECKLED_SIZE = 2048  # 20 km: the COG writer builds overviews at 2x and 4x
SPECK = 23  # forest: one pixel in every 2x2 block of water
TILE = "tiles/WebMercatorQuad/{z}/{x}/{y}.png"


def _speckled() -> np.ndarray:
    """Water with a forest pixel in every 2x2 block: MODE keeps water, an average does not."""
    data = np.full((SPECKLED_SIZE, SPECKLED_SIZE), WATER, dtype="uint8")
    data[1::2, 1::2] = SPECK
    return data


def _colours(base: str, path: str, z: int) -> set[tuple[int, ...]]:
    """The opaque colours of the tile holding the test spot."""
    response = httpx.get(tile_url(f"{base}/{path}/{TILE}", tile_of(WATER_SPOT, z)), timeout=60)
    assert response.status_code == 200, response.text
    pixels = decode_png(response.content).reshape(4, -1).T
    return {tuple(int(v) for v in p) for p in pixels if p[3] == 255}


@pytest.fixture
def speckled(pgstac_dsn: str, tmp_path: Path) -> None:
    mode = write_layer(tmp_path / "mode.tif", _speckled(), nodata=0, categorical=True)
    mean = write_layer(tmp_path / "mean.tif", _speckled(), nodata=0, categorical=False)
    items = [item_dict(mode, "mode", datetime(2024, 6, 1, tzinfo=UTC)),
             item_dict(mean, "mean", datetime(2020, 6, 1, tzinfo=UTC))]
    load(pgstac_dsn, [landcover_collection().to_dict()], items)


@pytest.mark.usefixtures("speckled")
@pytest.mark.parametrize("z", [8, 10, 12])
def test_item_colours_survive_at_low_zoom(tiler_url: str, z: int) -> None:
    water = colormap()[WATER]
    assert _colours(tiler_url, "collections/landcover/items/mode", z) == {water}
    # The same pixels with averaged overviews: another class's colour appears, so the check
    # above can tell MODE from averaging.
    if z < 12:
        assert _colours(tiler_url, "collections/landcover/items/mean", z) - {water}


@pytest.mark.usefixtures("speckled")
def test_mosaic_at_its_minimum_zoom_keeps_class_colours(tiler_url: str) -> None:
    assert _colours(tiler_url, "collections/landcover", 8) == {colormap()[WATER]}


@pytest.mark.usefixtures("speckled")
@pytest.mark.parametrize("z", [0, 4, 7])
def test_mosaic_tiles_below_the_minimum_zoom_are_refused_at_once(tiler_url: str, z: int) -> None:
    response = httpx.get(
        tile_url(f"{tiler_url}/collections/landcover/{TILE}", tile_of(WATER_SPOT, z)), timeout=5
    )
    assert response.status_code == 400
    assert f"zoom {z} is below this mosaic's minimum zoom 8" in response.json()["detail"]


@pytest.mark.usefixtures("speckled")
def test_the_floor_applies_to_registered_searches_too(tiler_url: str) -> None:
    body = {"collections": ["landcover"], "metadata": {"minzoom": 2}}
    search = httpx.post(f"{tiler_url}/searches/register", json=body, timeout=30).json()["id"]
    template = f"{tiler_url}/searches/{search}/{TILE}?assets=landcover&colormap_name=clc"
    assert httpx.get(tile_url(template, tile_of(WATER_SPOT, 5)), timeout=5).status_code == 400
    tilejson = httpx.get(f"{tiler_url}/searches/{search}/WebMercatorQuad/tilejson.json"
                         "?assets=landcover", timeout=30).json()
    assert (tilejson["minzoom"], tilejson["maxzoom"]) == (8, 16)
