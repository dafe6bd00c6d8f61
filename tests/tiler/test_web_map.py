"""The web map at /map in a real headless Chromium, on a product the real pipeline processed.

The page must load with no console error and no request leaving the tiler (offline, no CDN),
draw the ground truth's CLC colour at a known spot, and identify the right class on click. Its
legend lists the classes in view, only of those the collection's maps can contain: here the
union of the classes of the rule model that processed the product and of a second model's
item elsewhere. (The basemap, dates, layers, empty views: tests/tiler/test_web_map_features.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from catalog_schemas import clc
from catalog_schemas.assets import LANDCOVER_ASSET
from catalog_schemas.collections import classification_classes
from inference.settings import InferenceSettings
from infra.postgres import libpq_env
from ingest.pipeline import process_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built
from tests.servers import uvicorn_server
from tests.spots import Spot, interior_spot
from tests.tiler.landcover_data import item_dict, load, write_cog
from tests.tiler.legends import served_classes
from tests.tiles import decode_png
from tiler.settings import WEB_DIR

PROBE = Path(__file__).with_name("map_probe.cjs")
MODULES = WEB_DIR / "node_modules"
WATER = 512
LAND = (0xEC, 0xE6, 0xD9)  # the basemap's land (tiler/web/page/basemap.js)
# clc-dynamicworld's classes, listed by the second model's item.
DYNAMICWORLD = (512, 311, 231, 411, 211, 324, 112, 333, 335, 523)


def _chromium() -> str:
    # Debian's /usr/bin/chromium is a wrapper script; the binary behind it takes flags as is.
    for candidate in ("/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise AssertionError("chromium is not installed: run `make install`")


@dataclass
class Served:
    tiler: str
    spot: Spot
    legend: list[str]  # the rows the legend must show


def _item_of_another_model(cog: Path) -> dict:
    """An item of the other model, far from the product (in Spain): it never draws here."""
    item = item_dict(cog, "dynamicworld-elsewhere", datetime(2024, 7, 1, tzinfo=UTC))
    west, south, east, north = -4.1, 40.0, -4.0, 40.1
    item["bbox"] = [west, south, east, north]
    item["geometry"]["coordinates"] = [[[west, south], [east, south], [east, north],
                                        [west, north], [west, south]]]
    item["assets"][LANDCOVER_ASSET]["classification:classes"] = (
        classification_classes(DYNAMICWORLD))
    return item


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, module_pgstac_dsn: str) -> Iterator[Served]:
    assert (MODULES / "playwright-core").is_dir(), f"{MODULES} is missing: run `make install`"
    home = tmp_path_factory.mktemp("home")
    product = make_sample_product("T31TCJ", date(2024, 7, 1), 1024, home / "samples", seed=11)
    process_product(
        str(product),
        ingest=IngestSettings(_env_file=None, home=home),
        inference=InferenceSettings(_env_file=None, model_repository=built(home / "models")),
        dsn=module_pgstac_dsn,
    )
    load(module_pgstac_dsn, [], [_item_of_another_model(write_cog(home / "elsewhere.tif"))])
    spot = interior_spot(product.parent / "truth_landcover.tif", clc.grid_code_of(WATER),
                         margin=40)
    listed = served_classes(module_pgstac_dsn, "landcover")
    assert len(listed) == 2 and all(listed), "both items list the classes of their model"
    values = {c["value"] for classes in listed for c in classes}
    legend = [f"{c.clc_code} {c.name}" for c in clc.clc_classes() if c.grid_code in values]
    assert 10 < len(legend) < 44, legend  # the two models' classes overlap, not all 44
    env = {**libpq_env(module_pgstac_dsn), "EARTHSIG_HOME": str(home)}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as tiler:
        yield Served(tiler, spot, legend)


@pytest.fixture(scope="module")
def probe(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("browser")
    config = {"url": served.tiler, "lat": served.spot.lat, "lon": served.spot.lon, "zoom": 14,
              "chromium": _chromium(), "profile": str(out / "profile"), "out": str(out),
              "before": "2024-06-30"}
    log = out / "probe.log"
    with log.open("w") as stderr:
        done = subprocess.run(["node", str(PROBE), json.dumps(config)], stdout=subprocess.PIPE,
                              stderr=stderr, text=True, timeout=60,
                              env={**os.environ, "TILER_WEB_MODULES": str(MODULES)})
    assert done.returncode == 0, log.read_text()
    return {**json.loads(done.stdout), "out": out}


def _rgb_at(png: Path, point: dict) -> tuple[int, ...]:
    image = decode_png(png.read_bytes())
    return tuple(int(v) for v in image[:3, round(point["y"]), round(point["x"])])


def test_the_page_loads_offline_without_console_errors(probe: dict) -> None:
    assert probe["errorsBeforeDate"] == []
    assert probe["foreign"] == []
    assert probe["layers"] == ["landcover", "cloudmask", "confidence"]


def test_the_legend_lists_only_what_the_collection_can_contain(probe: dict,
                                                               served: Served) -> None:
    assert "512 Water bodies" in probe["legend"]  # the class at the view's centre
    # Classes in view, in legend order, each one the collection's maps can contain.
    assert probe["legend"] == [row for row in served.legend if row in probe["legend"]]


def test_tiles_show_the_ground_truth_colour_at_a_known_spot(probe: dict) -> None:
    assert _rgb_at(probe["out"] / "map.png", probe["point"]) == clc.by_clc_code(WATER).rgb


def test_click_identifies_the_class(probe: dict) -> None:
    assert probe["identify"]["clcCode"] == WATER
    assert probe["identify"]["gridCode"] == clc.grid_code_of(WATER)
    assert "Water bodies" in probe["identify"]["text"]


def test_opacity_and_date_controls(probe: dict) -> None:
    assert probe["opacity"] == pytest.approx(0.4)
    # As of a day before the product, nothing is drawn there: the basemap's land shows, and
    # the page says there is no land cover as of then.
    assert probe["beforeDate"] == "2024-06-30"
    assert _rgb_at(probe["out"] / "before.png", probe["point"]) == LAND
    assert "No land cover as of 2024-06-30" in probe["beforeEmpty"]


def test_the_page_says_when_leaflet_is_not_installed(pg_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    env = {**pg_env, "EARTHSIG_TILER_WEB_MODULES": str(tmp_path / "nothing")}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as base:
        response = httpx.get(f"{base}/map")
    assert response.status_code == 503 and "make install" in response.json()["detail"]


def test_leaflet_is_served_from_the_installed_package(served: Served) -> None:
    response = httpx.get(f"{served.tiler}/map/vendor/leaflet/leaflet.js")
    assert response.status_code == 200
    assert response.content == (MODULES / "leaflet" / "dist" / "leaflet.js").read_bytes()


def test_the_polygons_toggle_draws_the_views_polygons(probe: dict, served: Served) -> None:
    """Ticked at zoom 14: the view's polygons come as GeoJSON and are drawn, each in its
    class colour; the one under the spot is water, as the tiles and identify say."""
    import shapely

    features = probe["polygons"]["features"]
    assert features and probe["polygonPaths"] >= len(features)
    spot = shapely.Point(served.spot.lon, served.spot.lat)
    under = [f["properties"] for f in features
             if shapely.geometry.shape(f["geometry"]).contains(spot)]
    assert [p["clc_code"] for p in under] == [WATER]
    assert under[0]["color"] == f"#{clc.by_clc_code(WATER).hex_color}"
