"""The web map in a real headless Chromium over a real tiler and pgstac (issue 22 point 2,
issue 21's map points): the Natural Earth basemap drawn under the land cover, a legend of the
classes in view, a message on an empty view with the way to the nearest data, date stepping
that changes the tiles, layer choices, place search, a permalink, a narrow screen, and no
refused tile at zoom 4 (the pyramid) or 12 (the items).

One browser run (tests/tiler/web_map_probe.cjs) walks through all of it; each test checks one
part of what it saw, against the catalog (tests/tiler/web_map_catalog.py) and the colours the
tiler and basemap are documented to draw.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rio_tiler.colormap import cmap as stock_colormaps

from catalog_schemas import clc, cloudmask
from tests.tiler.landcover_data import FOREST, WATER
from tests.tiler.test_web_map import MODULES, _chromium
from tests.tiler.web_map_catalog import JULY, JUNE, VINEYARDS, WebMapCatalog, web_map_catalog
from tests.tiles import decode_png

PROBE = Path(__file__).with_name("web_map_probe.cjs")
# tiler/web/page: basemap.js (land) and map.css (the sea, the map's background).
LAND = (0xEC, 0xE6, 0xD9)
SEA = (0xB9, 0xD3, 0xE6)
# Points of Natural Earth's land and sea far from any coast, border or data at zoom 4.
LAND_POINT = (2.0, 47.0)  # the Loire valley, France
SEA_POINT = (-10.0, 45.0)  # the Bay of Biscay
# The Norwegian Sea north of 65 degrees: where a coast crossing the antimeridian (Chukotka)
# drawn from 180 to -180 degrees would paint a band of land across the map.
ARCTIC_SEA_POINT = (0.0, 65.8)
PARIS = (2.3488, 48.8534)


def _clc(grid_code: int) -> str:
    c = next(c for c in clc.clc_classes() if c.grid_code == grid_code)
    return f"{c.clc_code} {c.name}"


def _legend(*grid_codes: int) -> list[str]:
    """Legend rows in the legend's (CLC) order."""
    return [f"{c.clc_code} {c.name}" for c in clc.clc_classes() if c.grid_code in grid_codes]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory,
            module_pgstac_dsn: str) -> Iterator[WebMapCatalog]:
    with web_map_catalog(module_pgstac_dsn, tmp_path_factory.mktemp("home")) as served:
        yield served


@pytest.fixture(scope="module")
def seen(catalog: WebMapCatalog, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("browser")
    west, south, east, north = catalog.footprint
    config = {"url": catalog.tiler, "chromium": _chromium(), "out": str(out),
              "centre": [(west + east) / 2, (south + north) / 2],
              "left": [catalog.left.lon, catalog.left.lat],
              "right": [catalog.right.lon, catalog.right.lat],
              "paris": list(PARIS), "land": list(LAND_POINT), "sea": list(SEA_POINT),
              "arctic": list(ARCTIC_SEA_POINT)}
    log = out / "probe.log"
    with log.open("w") as stderr:
        done = subprocess.run(["node", str(PROBE), json.dumps(config)], stdout=subprocess.PIPE,
                              stderr=stderr, text=True, timeout=900,
                              env={**os.environ, "TILER_WEB_MODULES": str(MODULES)})
    assert done.returncode == 0, log.read_text()[-6000:]
    return {**json.loads(done.stdout), "out": out}


def _rgb(seen: dict, name: str, point: dict) -> tuple[int, ...]:
    image = decode_png((seen["out"] / f"{name}.png").read_bytes())
    return tuple(int(v) for v in image[:3, round(point["y"]), round(point["x"])])


def test_no_console_error_and_nothing_from_elsewhere(seen: dict) -> None:
    assert seen["errors"] == []
    assert seen["foreign"] == []


def test_no_refused_tile_at_zoom_4_12_and_16(seen: dict) -> None:
    """Issue 21: the page opens on Europe at zoom 4 (the pyramid) and zooms in to the items
    without one refused request; tiles were asked for at each zoom."""
    assert (seen["europe"]["zoom"], seen["z12"]["zoom"], seen["z16"]["zoom"]) == (4, 12, 16)
    assert seen["europe"]["hash"].startswith("#4/50.5")
    for phase, zoom in (("z4", 4), ("z12", 12), ("z16", 16)):
        tiles = [t["url"] for t in seen["tileRequests"] if t["phase"] == phase]
        assert any(f"/WebMercatorQuad/{zoom}/" in url for url in tiles), phase
    assert seen["refused"] == []


def test_the_basemap_draws_land_and_sea(seen: dict) -> None:
    assert _rgb(seen, "europe", seen["europe"]["land"]) == LAND
    assert _rgb(seen, "europe", seen["europe"]["sea"]) == SEA
    assert _rgb(seen, "europe", seen["europe"]["arctic"]) == SEA


def test_the_legend_lists_the_classes_in_view(seen: dict) -> None:
    assert seen["latest"]["legend"] == _legend(FOREST, VINEYARDS)
    assert seen["latest"]["legendItems"] == seen["latest"]["legend"]
    assert seen["june"]["legend"] == _legend(WATER, FOREST)
    # Zoomed in on the left half (past the tiles' native zoom 16): only its class.
    assert seen["leftOnly"]["zoom"] == 17
    assert seen["leftOnly"]["legend"] == [_clc(WATER)]


def test_stepping_through_dates_changes_the_tiles(seen: dict) -> None:
    assert seen["latest"]["dates"] == [JUNE, JULY, ""]
    assert (seen["latest"]["date"], seen["july"]["date"], seen["june"]["date"]) == (
        "", JULY, JUNE)
    assert seen["prevDisabled"] is True  # the oldest acquisition
    left = clc.by_clc_code(int(_clc(WATER).split()[0])).rgb
    assert _rgb(seen, "latest", seen["latest"]["left"]) == next(
        c.rgb for c in clc.clc_classes() if c.grid_code == FOREST)
    assert _rgb(seen, "june", seen["june"]["left"]) == left
    june_tiles = set(seen["june"]["tiles"])
    assert june_tiles and not june_tiles & set(seen["latest"]["tiles"])
    assert all("datetime=..%2F2024-06-01T23%3A59%3A59Z" in t for t in june_tiles)
    assert "/2024-06-01/landcover" in seen["june"]["hash"]


def test_layer_choices_draw_cloud_mask_and_confidence(seen: dict) -> None:
    by_value = {c.value: c for c in cloudmask.CLOUD_CLASSES}
    clear, cloud = by_value[cloudmask.CLEAR], by_value[cloudmask.CLOUD]
    assert seen["cloudmask"]["legend"] == [f"{c.name} {c.description}" for c in (clear, cloud)]
    assert _rgb(seen, "cloudmask", seen["cloudmask"]["right"]) == cloud.rgb
    assert all("render=cloudmask" in t for t in seen["cloudmask"]["tiles"])
    viridis = stock_colormaps.get("viridis")
    expected = tuple(viridis[round(40 * 255 / 100)][:3])  # the latest item's 40 %
    assert _rgb(seen, "confidence", seen["confidence"]["left"]) == pytest.approx(expected, abs=1)
    assert seen["ramp"] == ["0 %100 %"]


def test_an_empty_view_says_how_far_the_nearest_data_is(seen: dict) -> None:
    empty = seen["empty"]
    assert empty["direction"] == "south"
    assert 500 < empty["distanceKm"] < 600
    assert f"The nearest is {round(empty['distanceKm'])} km to the south" in empty["text"]
    assert "No land cover in this view" in empty["text"]
    assert seen["afterGo"]["hidden"] is True and seen["afterGo"]["inView"] is True


def test_go_there_centres_the_nearest_data(seen: dict, catalog: WebMapCatalog) -> None:
    west, south, east, north = catalog.footprint
    centre = seen["afterGo"]["centre"]
    assert west < centre["lng"] < east and south < centre["lat"] < north


def test_place_search_moves_the_map(seen: dict) -> None:
    assert seen["places"][0] == "Toulouse, FR"
    assert seen["searched"]["zoom"] == 11
    assert seen["searched"]["centre"]["lat"] == pytest.approx(43.604, abs=0.01)
    assert seen["searched"]["centre"]["lng"] == pytest.approx(1.444, abs=0.01)


def test_a_permalink_restores_view_date_and_layer(seen: dict) -> None:
    linked = seen["permalink"]
    assert (linked["zoom"], linked["date"], linked["layer"]) == (14, JUNE, "cloudmask")
    assert linked["tiles"] and all("render=cloudmask" in t and "2024-06-01" in t
                                   for t in linked["tiles"])
    assert linked["hash"].endswith("/2024-06-01/cloudmask")


def test_a_narrow_screen_stacks_map_and_panel(seen: dict) -> None:
    narrow = seen["narrow"]
    assert narrow["scrollWidth"] <= 400
    assert narrow["map"]["width"] == 400 and narrow["panel"]["width"] <= 400
    assert narrow["panel"]["top"] >= narrow["map"]["bottom"] - 1
    assert narrow["legend"]["items"] == _legend(FOREST, VINEYARDS)
