"""The tiler reads only hrefs under its asset roots, whichever endpoint asks (403 otherwise)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from catalog_schemas.collections import landcover_collection
from tests.tiler.landcover_data import WATER_SPOT, item_dict, load, write_cog
from tests.tiles import tile_of, tile_url

TILE = "tiles/WebMercatorQuad/{z}/{x}/{y}.png"
QUERY = "assets=landcover&colormap_name=clc"


@pytest.fixture
def outside_cog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid COG outside the tiler's asset roots (the test's own tmp_path)."""
    return write_cog(tmp_path_factory.mktemp("outside") / "secret.tif")


def _cog_status(base: str, url: str) -> int:
    template = f"{base}/cog/{TILE}?url={quote(url, safe='')}&colormap_name=clc"
    return httpx.get(tile_url(template, tile_of(WATER_SPOT)), timeout=30).status_code


def test_cog_reads_only_under_the_roots(
    tiler_url: str, landcover_cog: Path, outside_cog: Path
) -> None:
    assert _cog_status(tiler_url, str(landcover_cog)) == 200
    assert _cog_status(tiler_url, str(outside_cog)) == 403
    assert _cog_status(tiler_url, f"file://{landcover_cog}") == 403
    sneaky = landcover_cog.parent / ".." / outside_cog.parent.name / outside_cog.name
    assert _cog_status(tiler_url, str(sneaky)) == 403
    assert _cog_status(tiler_url, f"{tiler_url}/legends/clc.png") == 403
    assert _cog_status(tiler_url, f"/vsicurl/{tiler_url}/legends/clc.png") == 403


@pytest.fixture
def outside_item(pgstac_dsn: str, outside_cog: Path) -> dict:
    item = item_dict(outside_cog, "points-outside", datetime(2024, 6, 1, tzinfo=UTC))
    load(pgstac_dsn, [landcover_collection().to_dict()], [item])
    return item


@pytest.mark.usefixtures("outside_item")
@pytest.mark.parametrize(
    "path",
    [
        f"collections/landcover/items/points-outside/{TILE}?{QUERY}",
        f"collections/landcover/{TILE}?{QUERY}",
        f"collections/landcover/{TILE}",  # with the collection's default render
    ],
)
def test_items_pointing_outside_the_roots_are_refused(tiler_url: str, path: str) -> None:
    response = httpx.get(tile_url(f"{tiler_url}/{path}", tile_of(WATER_SPOT)), timeout=30)
    assert response.status_code == 403
    assert "not in a location this tiler serves" in response.json()["detail"]


@pytest.mark.usefixtures("outside_item")
@pytest.mark.parametrize(
    "path", ["collections/landcover", "collections/landcover/items/points-outside"]
)
def test_point_queries_on_such_items_are_refused(tiler_url: str, path: str) -> None:
    url = f"{tiler_url}/{path}/identify/{WATER_SPOT.lon},{WATER_SPOT.lat}"
    assert httpx.get(url, timeout=30).status_code == 403
