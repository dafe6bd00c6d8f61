"""A collection's default render fills in requests that name no layer."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest

from tests.tiler.conftest import ITEM_ID
from tests.tiler.landcover_data import FOREST_RGBA, WATER_RGBA, WATER_SPOT
from tests.tiles import colour_at, tile_of, tile_url
from tiler.renders import default_render, render_query

TILE = "tiles/WebMercatorQuad/{z}/{x}/{y}.png"


@pytest.mark.usefixtures("landcover_item")
@pytest.mark.parametrize(
    "path", ["collections/landcover", f"collections/landcover/items/{ITEM_ID}"]
)
def test_a_bare_tile_url_shows_clc_colours(tiler_url: str, path: str) -> None:
    assert colour_at(f"{tiler_url}/{path}/{TILE}", WATER_SPOT) == WATER_RGBA


@pytest.mark.usefixtures("landcover_item")
def test_another_render_is_chosen_by_name(tiler_url: str) -> None:
    # The collection's `cloudmask` render asks for an asset this item does not have.
    template = f"{tiler_url}/collections/landcover/items/{ITEM_ID}/{TILE}?render=cloudmask"
    response = httpx.get(tile_url(template, tile_of(WATER_SPOT)), timeout=30)
    assert response.status_code == 404 and "cloudmask" in response.text


@pytest.mark.usefixtures("landcover_item")
def test_the_clients_own_parameters_win(tiler_url: str) -> None:
    red = quote(json.dumps({"41": "#ff0000"}))
    assert colour_at(f"{tiler_url}/collections/landcover/{TILE}?colormap={red}",
                     WATER_SPOT) == (255, 0, 0, 255)
    viridis = f"{tiler_url}/collections/landcover/{TILE}?colormap_name=viridis"
    assert colour_at(viridis, WATER_SPOT) not in (WATER_RGBA, FOREST_RGBA)


def test_render_query_spells_titiler_parameters() -> None:
    render = {"assets": ["a", "b"], "rescale": [[0, 100]], "colormap": {"1": "#ff0000"},
              "colormap_name": "clc", "resampling": "nearest", "minmax_zoom": [8, 16],
              "title": "x"}
    assert render_query(render) == [
        ("assets", "a"), ("assets", "b"), ("colormap_name", "clc"),
        ("colormap", '{"1": "#ff0000"}'), ("resampling", "nearest"), ("rescale", "0,100"),
    ]


def test_default_render_choice() -> None:
    a, b = {"assets": ["a"]}, {"assets": ["b"]}
    assert default_render({"x": a, "landcover": b}, "landcover") is b
    assert default_render({"x": a, "default": b}, "landcover") is b
    assert default_render({"x": a}, "landcover") is a
    assert default_render({"x": a, "y": b}, "landcover") is None
    assert default_render({"x": a, "y": b}, "landcover", "y") is b
