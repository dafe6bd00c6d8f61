"""Legends (JSON, PNG) and the WMTS capabilities QGIS reads."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

from catalog_schemas import clc, cloudmask
from tests.tiler.landcover_data import WATER_RGBA, WATER_SPOT
from tests.tiler.legends import swatch_colours
from tests.tiles import colour_at
from tiler.legend import LegendName, legend_png


def test_clc_legend_json_matches_the_colormap(tiler_url: str) -> None:
    body = httpx.get(f"{tiler_url}/legends/clc").json()
    assert body["title"] == "CORINE Land Cover"
    entries = {e["value"]: e for e in body["entries"]}
    assert len(entries) == 44
    assert entries[15]["code"] == "221" and entries[15]["name"] == "Vineyards"
    assert entries[41]["color"] == "#80F2E6" and tuple(entries[41]["rgba"]) == WATER_RGBA
    assert {v: tuple(e["rgba"]) for v, e in entries.items()} == {
        k: v for k, v in clc.colormap().items() if k != clc.NODATA}


def test_cloudmask_legend_and_colormap(tiler_url: str) -> None:
    body = httpx.get(f"{tiler_url}/legends/cloudmask").json()
    assert [e["code"] for e in body["entries"]] == [c.name for c in cloudmask.CLOUD_CLASSES]
    cmap = httpx.get(f"{tiler_url}/colorMaps/cloudmask").json()
    assert {int(k): tuple(v) for k, v in cmap.items()} == cloudmask.colormap()


def test_unknown_legend_is_422(tiler_url: str) -> None:
    assert httpx.get(f"{tiler_url}/legends/viridis").status_code == 422


@pytest.mark.parametrize("name", list(LegendName))
def test_legend_png_has_a_swatch_per_class(tiler_url: str, name: LegendName) -> None:
    response = httpx.get(f"{tiler_url}/legends/{name.value}.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content == legend_png(name)
    expected = ([c.rgb for c in clc.clc_classes()] if name is LegendName.clc
                else [c.rgb for c in cloudmask.CLOUD_CLASSES])
    assert swatch_colours(response.content) == expected


WMTS = "{http://www.opengis.net/wmts/1.0}"
OWS = "{http://www.opengis.net/ows/1.1}"


def test_wmts_capabilities_for_qgis(tiler_url: str, landcover_item: dict) -> None:
    response = httpx.get(f"{tiler_url}/collections/landcover/WMTSCapabilities.xml", timeout=30)
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    layers = root.findall(f"{WMTS}Contents/{WMTS}Layer")
    by_id = {layer.find(f"{OWS}Identifier").text: layer for layer in layers}
    layer = by_id["EarthSignature_WebMercatorQuad_landcover"]
    template = layer.find(f"{WMTS}ResourceURL").get("template")
    assert "/collections/landcover/tiles/WebMercatorQuad/{TileMatrix}/{TileCol}/{TileRow}.png" \
        in template
    assert "assets=landcover" in template and "colormap_name=clc" in template
    limits = layer.findall(f".//{WMTS}TileMatrixLimits/{WMTS}TileMatrix")
    assert [int(m.text) for m in limits] == list(range(8, 17))
    lower = layer.find(f"{OWS}WGS84BoundingBox/{OWS}LowerCorner").text.split()
    assert [float(v) for v in lower] == pytest.approx(landcover_item["bbox"][:2], abs=1e-6)
    # The template QGIS will fill in draws the land cover in CLC colours.
    xyz = template.replace("{TileMatrix}", "{z}").replace("{TileCol}", "{x}")
    assert colour_at(xyz.replace("{TileRow}", "{y}"), WATER_SPOT) == WATER_RGBA
