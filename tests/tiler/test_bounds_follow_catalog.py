"""TileJSON and WMTS bounds follow the catalog at once (issue 22, point 3).

Upstream registers a collection's mosaic search with the collection's extent of that moment as
its bounds and caches it for 5 minutes: right after ``make up`` the web map hid the products
published after the first. Here a product is published after the mosaic was registered and
served, and the very next TileJSON and WMTS documents must cover it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from affine import Affine

from catalog_schemas.collections import landcover_collection
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.register import refresh_collection
from ingest.outputs.cog import write_cog
from tests.tiler.landcover_data import CRS, FOREST, ORIGIN, PIXEL, SIZE, item_dict, load
from tiler.backend import search_area

TILEJSON = "/collections/landcover/WebMercatorQuad/tilejson.json?assets=landcover" \
    "&colormap_name=clc&tile_format=png"
WMTS_XML = "/collections/landcover/WMTSCapabilities.xml"
WMTS = "{http://www.opengis.net/wmts/1.0}"
OWS = "{http://www.opengis.net/ows/1.1}"
LAYER = "EarthSignature_WebMercatorQuad_landcover"
MODEL = "clc-spectral:1"
EAST_M = 60_000.0  # the second product lies 60 km east of the first (T31TCJ -> T31TDJ side)


def _publish(dsn: str, path: Path, item_id: str, east_m: float) -> dict:
    """A forest COG ``east_m`` metres east of the test grid, loaded as the pipeline does: the
    item upserted, then the collection's extent refreshed from its items."""
    transform = Affine(PIXEL, 0.0, ORIGIN[0] + east_m, 0.0, -PIXEL, ORIGIN[1])
    cog = write_cog(np.full((SIZE, SIZE), FOREST, np.uint8), path, crs=CRS,
                    transform=transform, nodata=0, categorical=True)
    item = item_dict(cog, item_id, datetime(2024, 7, 1, 10, 46, tzinfo=UTC))
    # As the pipeline's items: the map shows the active version of the model they come from.
    item["properties"]["earthsig:model"] = MODEL
    load(dsn, [landcover_collection().to_dict()], [item])
    with pgstac_session(dsn) as db:
        refresh_collection(db, "landcover", models=True)
    return item


def _tilejson_bounds(tiler_url: str) -> list[float]:
    response = httpx.get(tiler_url + TILEJSON, timeout=30)
    assert response.status_code == 200, response.text
    doc = response.json()
    # The collection render's zooms (no pyramid in this test's store), whatever was published.
    assert (doc["minzoom"], doc["maxzoom"]) == (8, 16)
    return doc["bounds"]


def _wmts_bounds(tiler_url: str) -> list[float]:
    response = httpx.get(tiler_url + WMTS_XML, timeout=30)
    assert response.status_code == 200, response.text
    layers = ET.fromstring(response.content).findall(f"{WMTS}Contents/{WMTS}Layer")
    layer = next(la for la in layers if la.find(f"{OWS}Identifier").text == LAYER)
    box = layer.find(f"{OWS}WGS84BoundingBox")
    lower = [float(v) for v in box.find(f"{OWS}LowerCorner").text.split()]
    upper = [float(v) for v in box.find(f"{OWS}UpperCorner").text.split()]
    return lower + upper


def test_a_product_published_after_the_map_was_registered_is_in_its_bounds_at_once(
    tiler_url: str, pgstac_dsn: str, tmp_path: Path
) -> None:
    first = _publish(pgstac_dsn, tmp_path / "first.tif", "first", 0.0)
    # The map opens: the collection's mosaic search is registered and its info cached.
    assert _tilejson_bounds(tiler_url) == pytest.approx(first["bbox"], abs=1e-6)
    assert _wmts_bounds(tiler_url) == pytest.approx(first["bbox"], abs=1e-6)

    second = _publish(pgstac_dsn, tmp_path / "second.tif", "second", EAST_M)
    assert second["bbox"][0] > first["bbox"][2]  # apart: the old bounds cannot cover it
    both = [min(first["bbox"][0], second["bbox"][0]), min(first["bbox"][1], second["bbox"][1]),
            max(first["bbox"][2], second["bbox"][2]), max(first["bbox"][3], second["bbox"][3])]
    assert _tilejson_bounds(tiler_url) == pytest.approx(both, abs=1e-6)
    assert _wmts_bounds(tiler_url) == pytest.approx(both, abs=1e-6)


def test_a_search_bbox_still_clips_the_bounds(
    tiler_url: str, pgstac_dsn: str, tmp_path: Path
) -> None:
    first = _publish(pgstac_dsn, tmp_path / "first.tif", "first", 0.0)
    west, south, east, north = first["bbox"]
    middle = (west + east) / 2
    # Only the item's western half: the bounds stop at the search's own box.
    url = (f"{tiler_url}/collections/landcover/WebMercatorQuad/tilejson.json?assets=landcover"
           f"&colormap_name=clc&bbox={west - 1},{south - 1},{middle},{north + 1}")
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["bounds"] == pytest.approx([west, south, middle, north], abs=1e-6)


def test_the_search_area_is_its_bbox_or_its_geometry_bounds() -> None:
    assert search_area({"collections": ["landcover"]}) is None
    assert search_area({"bbox": [1, 43, 2, 44]}) == (1.0, 43.0, 2.0, 44.0)
    assert search_area({"bbox": [1, 43, 0, 2, 44, 100]}) == (1.0, 43.0, 2.0, 44.0)  # 3D
    triangle = {"type": "Polygon", "coordinates": [[[1, 43], [2, 43], [1.5, 44], [1, 43]]]}
    assert search_area({"intersects": triangle}) == (1.0, 43.0, 2.0, 44.0)
