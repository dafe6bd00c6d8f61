"""The tiler over HTTP: a real uvicorn server on a real pgstac database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from catalog_schemas.clc import colormap
from catalog_schemas.collections import EUROPE_BBOX
from tests.tiler.conftest import ITEM_ID
from tests.tiler.landcover_data import (
    FOREST_RGBA,
    FOREST_SPOT,
    WATER_RGBA,
    WATER_SPOT,
    item_dict,
    load,
    write_cog,
)
from tests.tiles import colour_at, decode_png, tile_of, tile_url

# The documented query: nearest is the default already, spelled out as infra/endpoints.py does.
CLC = "assets=landcover&colormap_name=clc&resampling=nearest"
TILE = "tiles/WebMercatorQuad/{z}/{x}/{y}.png"
FAR_AWAY = (0, 0, 14)  # x, y, z: a tile in the Arctic Ocean north of Alaska


def item_xyz(base: str, item_id: str = ITEM_ID) -> str:
    return f"{base}/collections/landcover/items/{item_id}/{TILE}?{CLC}"


def collection_xyz(base: str) -> str:
    return f"{base}/collections/landcover/{TILE}?{CLC}"


def cog_xyz(base: str, cog: Path, colormap_query: str = "colormap_name=clc") -> str:
    return f"{base}/cog/{TILE}?url={quote(str(cog), safe='')}&{colormap_query}"


@pytest.mark.parametrize("z", [13, 14])
@pytest.mark.usefixtures("landcover_item")
def test_item_tiles_are_coloured_by_class(tiler_url: str, z: int) -> None:
    assert colour_at(item_xyz(tiler_url), WATER_SPOT, z) == WATER_RGBA
    assert colour_at(item_xyz(tiler_url), FOREST_SPOT, z) == FOREST_RGBA


@pytest.mark.usefixtures("landcover_item")
def test_collection_mosaic_tiles_are_coloured_by_class(tiler_url: str) -> None:
    assert colour_at(collection_xyz(tiler_url), WATER_SPOT) == WATER_RGBA
    assert colour_at(collection_xyz(tiler_url), FOREST_SPOT) == FOREST_RGBA


def test_cog_tiles_are_coloured_by_class(tiler_url: str, landcover_cog: Path) -> None:
    assert colour_at(cog_xyz(tiler_url, landcover_cog), WATER_SPOT) == WATER_RGBA
    assert colour_at(cog_xyz(tiler_url, landcover_cog), FOREST_SPOT) == FOREST_RGBA


def test_collection_mosaic_puts_the_newest_item_on_top(
    tiler_url: str, pgstac_dsn: str, landcover_item: dict, tmp_path: Path
) -> None:
    older = write_cog(tmp_path / "older.tif", left=2, right=2)
    newer = write_cog(tmp_path / "newer.tif", left=3, right=3)
    load(
        pgstac_dsn,
        items=[
            item_dict(older, "older", datetime(2023, 6, 1, tzinfo=UTC)),
            item_dict(newer, "newer", datetime(2025, 6, 1, tzinfo=UTC)),
        ],
    )
    # The fixture's item (2024) sits between the two; only the 2025 one may show.
    assert colour_at(collection_xyz(tiler_url), WATER_SPOT) == colormap()[3]
    assert colour_at(collection_xyz(tiler_url), FOREST_SPOT) == colormap()[3]


def test_search_mosaic_tiles_are_coloured_by_class(tiler_url: str, landcover_item: dict) -> None:
    response = httpx.post(
        f"{tiler_url}/searches/register",
        json={"collections": ["landcover"], "ids": [landcover_item["id"]]},
    )
    assert response.status_code == 200, response.text
    search_id = response.json()["id"]
    template = f"{tiler_url}/searches/{search_id}/{TILE}?{CLC}"
    assert colour_at(template, WATER_SPOT) == WATER_RGBA
    assert colour_at(template, FOREST_SPOT) == FOREST_RGBA


def _tilejson(url: str) -> dict:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_item_tilejson_has_the_item_bounds_and_a_png_template(
    tiler_url: str, landcover_item: dict
) -> None:
    doc = _tilejson(
        f"{tiler_url}/collections/landcover/items/{ITEM_ID}/WebMercatorQuad/tilejson.json"
        f"?{CLC}&tile_format=png"
    )
    assert doc["bounds"] == pytest.approx(landcover_item["bbox"], abs=1e-9)
    assert f"/items/{ITEM_ID}/{TILE}?{CLC}" in doc["tiles"][0]


def test_collection_tilejson_has_the_items_bounds_and_the_render_zooms(
    tiler_url: str, landcover_item: dict
) -> None:
    # The collection still declares all of Europe: the bounds must come from its items.
    doc = _tilejson(
        f"{tiler_url}/collections/landcover/WebMercatorQuad/tilejson.json?{CLC}&tile_format=png"
    )
    assert doc["bounds"] == pytest.approx(landcover_item["bbox"], abs=1e-6)
    assert doc["bounds"] != pytest.approx(EUROPE_BBOX)
    # minmax_zoom of the collection's render (catalog_schemas), not 0-24.
    assert (doc["minzoom"], doc["maxzoom"]) == (8, 16)
    assert f"/collections/landcover/{TILE}?{CLC}" in doc["tiles"][0]
    # The collection's render comes back as a layer QGIS users can copy.
    layer = doc["raster_layers"]["landcover"]
    assert layer["colormap_name"] == "clc" and layer["assets"] == ["landcover"]


@pytest.mark.usefixtures("landcover_item")
def test_tiles_outside_the_data(tiler_url: str, landcover_cog: Path) -> None:
    x, y, z = FAR_AWAY
    far = {"z": z, "x": x, "y": y}
    # A mosaic with no item there answers 204 No Content (EmptyMosaicError / NoAssetFoundError).
    response = httpx.get(collection_xyz(tiler_url).format(**far))
    assert response.status_code == 204 and response.content == b""
    # A single item or COG raises TileOutsideBounds: 404.
    assert httpx.get(item_xyz(tiler_url).format(**far)).status_code == 404
    assert httpx.get(cog_xyz(tiler_url, landcover_cog).format(**far)).status_code == 404


@pytest.mark.usefixtures("landcover_item")
def test_pixels_outside_the_footprint_are_transparent(tiler_url: str) -> None:
    # At z=10 the tile is far larger than the 2.56 km COG: most of it is outside the data.
    tile = tile_of(WATER_SPOT, 10)
    response = httpx.get(tile_url(collection_xyz(tiler_url), tile))
    assert response.status_code == 200
    alpha = decode_png(response.content)[3]
    assert alpha[0, 0] == 0 and (alpha == 255).any()


@pytest.mark.parametrize("endpoint", ["item", "collection", "cog"])
@pytest.mark.usefixtures("landcover_item")
def test_an_unknown_colormap_name_is_a_client_error(
    tiler_url: str, landcover_cog: Path, endpoint: str
) -> None:
    template = {
        "item": item_xyz(tiler_url),
        "collection": collection_xyz(tiler_url),
        "cog": cog_xyz(tiler_url, landcover_cog),
    }[endpoint].replace("colormap_name=clc", "colormap_name=not-a-colormap")
    response = httpx.get(tile_url(template, tile_of(WATER_SPOT)))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "colormap_name"]


def test_stock_and_explicit_colormaps_still_work(tiler_url: str, landcover_cog: Path) -> None:
    viridis = cog_xyz(tiler_url, landcover_cog, "colormap_name=viridis")
    assert colour_at(viridis, WATER_SPOT) not in (WATER_RGBA, FOREST_RGBA)

    explicit = quote(json.dumps({"41": "#ff0000", "23": "#0000ffff"}))
    template = cog_xyz(tiler_url, landcover_cog, f"colormap={explicit}")
    assert colour_at(template, WATER_SPOT) == (255, 0, 0, 255)
    assert colour_at(template, FOREST_SPOT) == (0, 0, 255, 255)


def test_the_clc_legend_is_published(tiler_url: str) -> None:
    response = httpx.get(f"{tiler_url}/colorMaps/clc")
    assert response.status_code == 200
    assert {int(k): tuple(v) for k, v in response.json().items()} == colormap()


def test_successful_tiles_are_cacheable_errors_are_not(
    tiler_url: str, landcover_item: dict
) -> None:
    ok = httpx.get(tile_url(item_xyz(tiler_url), tile_of(WATER_SPOT)))
    missing = httpx.get(tile_url(item_xyz(tiler_url, "not-loaded-yet"), tile_of(WATER_SPOT)))
    assert ok.status_code == 200 and "max-age" in ok.headers["cache-control"]
    assert missing.status_code == 404 and "cache-control" not in missing.headers


def test_healthz_reports_the_database(tiler_url: str) -> None:
    response = httpx.get(f"{tiler_url}/healthz")
    assert response.status_code == 200
    assert response.json()["database_online"] is True
    assert "cache-control" not in response.headers
