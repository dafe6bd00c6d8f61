"""Cloud masking in mosaics and the point query, on items with confidence and cloudmask assets.

An older clear item (water | forest) lies under a newer one (industrial everywhere) whose left
half is under cloud. Without masking the newer item hides the older one everywhere; with
``mask_clouds=true`` the older water shows through the cloud, and the point query agrees.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest

from catalog_schemas import cloudmask
from catalog_schemas.clc import colormap
from catalog_schemas.collections import landcover_collection
from tests.tiler.conftest import ITEM_ID
from tests.tiler.landcover_data import (
    FOREST,
    FOREST_SPOT,
    SIZE,
    WATER,
    WATER_RGBA,
    WATER_SPOT,
    halves,
    item_dict,
    load,
    write_layer,
)
from tests.tiles import colour_at

INDUSTRY = 3  # CLC 121 industrial or commercial units
TILE = "tiles/WebMercatorQuad/{z}/{x}/{y}.png"


def _item(folder: Path, item_id: str, when: datetime, classes: np.ndarray,
          confidence: int, clouds: np.ndarray) -> dict:
    folder.mkdir()
    extra = {
        "confidence": write_layer(folder / "confidence.tif",
                                  np.full((SIZE, SIZE), confidence), nodata=255),
        "cloudmask": write_layer(folder / "cloudmask.tif", clouds, nodata=cloudmask.NODATA),
    }
    landcover = write_layer(folder / "landcover.tif", classes, nodata=0)
    return item_dict(landcover, item_id, when, extra)


@pytest.fixture
def clouded(pgstac_dsn: str, tmp_path: Path) -> None:
    older = _item(tmp_path / "older", "older-clear", datetime(2023, 6, 1, tzinfo=UTC),
                  halves(WATER, FOREST), 90, halves(cloudmask.CLEAR, cloudmask.CLEAR))
    newer = _item(tmp_path / "newer", "newer-cloudy", datetime(2025, 6, 1, tzinfo=UTC),
                  halves(INDUSTRY, INDUSTRY), 55, halves(cloudmask.CLOUD, cloudmask.CLEAR))
    load(pgstac_dsn, [landcover_collection().to_dict()], [older, newer])


@pytest.mark.usefixtures("clouded")
def test_mosaic_shows_the_newest_item_unless_clouds_are_masked(tiler_url: str) -> None:
    plain = f"{tiler_url}/collections/landcover/{TILE}"
    masked = f"{plain}?mask_clouds=true"
    assert colour_at(plain, WATER_SPOT) == colormap()[INDUSTRY]
    assert colour_at(masked, WATER_SPOT) == WATER_RGBA
    # Where the newer item is clear, it stays on top.
    assert colour_at(masked, FOREST_SPOT) == colormap()[INDUSTRY]


def _identify(base: str, path: str, spot: object, query: str = "") -> httpx.Response:
    return httpx.get(f"{base}/{path}/identify/{spot.lon},{spot.lat}?{query}", timeout=30)


@pytest.mark.usefixtures("clouded")
def test_point_query_names_the_class_the_item_and_its_confidence(tiler_url: str) -> None:
    response = _identify(tiler_url, "collections/landcover", WATER_SPOT)
    assert response.status_code == 200, response.text
    found = response.json()
    assert (found["item"], found["grid_code"], found["clc_code"]) == ("newer-cloudy", 3, 121)
    assert found["name"] == "Industrial or commercial units"
    assert (found["confidence"], found["cloud"]) == (55, "cloud")
    assert found["datetime"].startswith("2025-06-01")


@pytest.mark.usefixtures("clouded")
def test_point_query_with_masked_clouds_answers_what_the_masked_mosaic_shows(
    tiler_url: str,
) -> None:
    found = _identify(tiler_url, "collections/landcover", WATER_SPOT, "mask_clouds=true").json()
    assert (found["item"], found["clc_code"], found["name"]) == ("older-clear", 512,
                                                                 "Water bodies")
    assert (found["confidence"], found["cloud"], found["color"]) == (90, "clear", "#80F2E6")
    clear = _identify(tiler_url, "collections/landcover", FOREST_SPOT, "mask_clouds=true").json()
    assert clear["item"] == "newer-cloudy"


@pytest.mark.usefixtures("clouded")
def test_point_query_on_one_item_and_on_a_search(tiler_url: str) -> None:
    found = _identify(tiler_url, "collections/landcover/items/older-clear", FOREST_SPOT).json()
    assert (found["clc_code"], found["grid_code"]) == (311, FOREST)
    search = httpx.post(f"{tiler_url}/searches/register",
                        json={"collections": ["landcover"], "ids": ["older-clear"]}).json()["id"]
    assert _identify(tiler_url, f"searches/{search}", WATER_SPOT).json()["clc_code"] == 512


@pytest.mark.usefixtures("clouded")
def test_point_query_where_there_is_nothing_is_404(tiler_url: str) -> None:
    class Far:
        lon, lat = 10.0, 50.0

    response = _identify(tiler_url, "collections/landcover", Far)
    assert response.status_code == 404 and "no item" in response.json()["detail"]


@pytest.mark.usefixtures("landcover_item")
def test_point_query_on_an_item_without_confidence_or_cloudmask(tiler_url: str) -> None:
    found = _identify(tiler_url, f"collections/landcover/items/{ITEM_ID}", WATER_SPOT).json()
    assert found["clc_code"] == 512
    assert found["confidence"] is None and found["cloud"] is None
