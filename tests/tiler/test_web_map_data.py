"""The web map's data routes on a real tiler and pgstac: layers and their legends, the
acquisitions in a view and the nearest data, place search and city labels, the shipped
basemap files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import shapely
from pyproj import Geod

from catalog_schemas import clc, cloudmask
from catalog_schemas.collections import landcover_collection
from catalog_schemas.landcover_change import UNCHANGED_RGBA, changes_collection
from tests.tiler.landcover_data import load
from tests.tiler.web_map_catalog import JULY, JUNE, WebMapCatalog, web_map_catalog
from tiler.coverage import compass
from tiler.settings import WEB_DIR

PARIS = (2.3488, 48.8534)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory,
            module_pgstac_dsn: str) -> Iterator[WebMapCatalog]:
    with web_map_catalog(module_pgstac_dsn, tmp_path_factory.mktemp("home")) as served:
        yield served


def _view(centre: tuple[float, float], half: float = 0.05) -> str:
    lon, lat = centre
    return f"{lon - half},{lat - half},{lon + half},{lat + half}"


def test_config_lists_the_layers_with_their_legends(catalog: WebMapCatalog) -> None:
    config = httpx.get(f"{catalog.tiler}/map/config.json", timeout=30).json()
    layers = {layer["id"]: layer for layer in config["layers"]}
    assert list(layers) == ["landcover", "cloudmask", "confidence"]  # no changes collection
    # The items name no classes: their model could write any of the 44.
    assert [e["code"] for e in layers["landcover"]["classes"]] == [
        str(c.clc_code) for c in clc.clc_classes()]
    water = next(e for e in layers["landcover"]["classes"] if e["code"] == "512")
    assert tuple(water["rgba"]) == (*clc.by_clc_code(512).rgb, 255)
    assert [e["code"] for e in layers["cloudmask"]["classes"]] == [
        c.name for c in cloudmask.CLOUD_CLASSES]
    assert layers["cloudmask"]["params"] == {"render": "cloudmask"}
    assert layers["confidence"]["legend_kind"] == "ramp"
    assert layers["confidence"]["ramp"]["colors"][0] == "#440154"  # viridis at 0


def test_coverage_lists_the_acquisitions_in_view(catalog: WebMapCatalog) -> None:
    centre = (catalog.left.lon, catalog.left.lat)
    found = httpx.get(f"{catalog.tiler}/collections/landcover/coverage",
                      params={"bbox": _view(centre)}, timeout=30).json()
    assert found == {"in_view": True, "dates": [JUNE, JULY], "nearest": None}
    # A date before any acquisition: nothing drawn, the dates to step to are still listed.
    before = httpx.get(f"{catalog.tiler}/collections/landcover/coverage",
                       params={"bbox": _view(centre), "datetime": "../2024-05-01T23:59:59Z"},
                       timeout=30).json()
    assert (before["in_view"], before["dates"]) == (False, [JUNE, JULY])
    assert before["nearest"] is None  # none anywhere as of then


def test_coverage_says_how_far_and_where_the_nearest_data_is(catalog: WebMapCatalog) -> None:
    found = httpx.get(f"{catalog.tiler}/collections/landcover/coverage",
                      params={"bbox": _view(PARIS)}, timeout=30).json()
    assert found["in_view"] is False and found["dates"] == []
    near = found["nearest"]
    assert near["item"] in {f"web-map-{JUNE}", f"web-map-{JULY}"}
    assert near["bbox"] == pytest.approx(catalog.footprint)
    # Independently: the footprint's closest point to Paris, measured on the WGS84 ellipsoid.
    footprint = shapely.box(*catalog.footprint)
    closest = shapely.shortest_line(footprint, shapely.Point(PARIS)).coords[0]
    azimuth, _, metres = Geod(ellps="WGS84").inv(*PARIS, *closest)
    assert near["distance_km"] == pytest.approx(metres / 1000, abs=0.5)
    assert 500 < near["distance_km"] < 600
    assert near["bearing"] == pytest.approx(azimuth % 360, abs=0.5)
    assert near["direction"] == compass(azimuth) == "south"  # 196 degrees: Agen from Paris


@pytest.mark.parametrize(("params", "word"), [
    ({"bbox": "1,2,3"}, "west,south,east,north"),
    ({"bbox": "3,2,1,4"}, "west < east"),
    ({"bbox": "0,40,1,41", "datetime": "01/07/2024"}, "RFC 3339"),
    ({"bbox": "0,40,1,41", "filter": "[1]"}, "CQL2"),
    ({"bbox": "0,40,1,41", "filter": '{"op": "nope", "args": [1]}'}, "filter"),
])
def test_coverage_refuses_bad_input(catalog: WebMapCatalog, params: dict, word: str) -> None:
    response = httpx.get(f"{catalog.tiler}/collections/landcover/coverage", params=params,
                         timeout=30)
    assert response.status_code == 400 and word in response.json()["detail"]


def test_place_search_finds_cities_by_prefix_without_accents(catalog: WebMapCatalog) -> None:
    found = httpx.get(f"{catalog.tiler}/map/places", params={"q": "toulouse"}, timeout=30).json()
    assert (found[0]["name"], found[0]["country"]) == ("Toulouse", "FR")
    assert found[0]["lat"] == pytest.approx(43.6, abs=0.05)
    accents = httpx.get(f"{catalog.tiler}/map/places", params={"q": "saint-etienne"},
                        timeout=30).json()
    assert accents[0]["name"] == "Saint-Étienne"
    assert all(p["name"].startswith("Saint-Étienne") for p in accents)
    nothing = httpx.get(f"{catalog.tiler}/map/places", params={"q": "Qxzzy"}, timeout=30)
    assert nothing.status_code == 200 and nothing.json() == []


def test_city_labels_are_the_most_populous_in_view(catalog: WebMapCatalog) -> None:
    found = httpx.get(f"{catalog.tiler}/map/cities",
                      params={"bbox": "-5,42,8,51", "limit": 3}, timeout=30).json()
    assert found[0]["name"] == "Paris"
    populations = [city["population"] for city in found]
    assert populations == sorted(populations, reverse=True) and len(found) == 3
    assert all(-5 <= c["lon"] <= 8 and 42 <= c["lat"] <= 51 for c in found)


def test_the_basemap_is_served_from_the_installed_packages(catalog: WebMapCatalog) -> None:
    modules = WEB_DIR / "node_modules"
    atlas = httpx.get(f"{catalog.tiler}/map/vendor/world-atlas/countries-50m.json", timeout=30)
    assert atlas.status_code == 200
    assert atlas.content == (modules / "world-atlas" / "countries-50m.json").read_bytes()
    assert set(json.loads(atlas.content)["objects"]) == {"countries", "land"}
    client = httpx.get(f"{catalog.tiler}/map/vendor/topojson-client/topojson-client.min.js",
                       timeout=30)
    assert client.status_code == 200
    assert client.content == Path(modules / "topojson-client" / "dist" /
                                  "topojson-client.min.js").read_bytes()


def test_the_changes_collection_adds_a_changes_layer(pgstac_dsn: str, tiler_url: str) -> None:
    load(pgstac_dsn, [landcover_collection().to_dict(), changes_collection().to_dict()])
    config = httpx.get(f"{tiler_url}/map/config.json", timeout=30).json()
    layers = {layer["id"]: layer for layer in config["layers"]}
    assert list(layers) == ["landcover", "cloudmask", "confidence", "changes"]
    changes = layers["changes"]
    assert (changes["collection"], changes["params"]) == ("changes", {})
    # Unchanged pixels in grey, a change in its new class's colour.
    assert tuple(changes["classes"][0]["rgba"]) == UNCHANGED_RGBA
    burnt = next(e for e in changes["classes"] if e["code"] == "→ 334")
    assert tuple(burnt["rgba"]) == (*clc.by_clc_code(334).rgb, 255)
    # No item yet: the landcover legend lists nothing its maps could contain.
    assert layers["landcover"]["classes"] == []
