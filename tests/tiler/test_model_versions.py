"""One model version per map: the collection's mosaic shows the active version of each model
(issue 21, point 4); a parameter asks for another."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from catalog_schemas.collections import landcover_collection
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import (
    FOREST,
    FOREST_RGBA,
    WATER,
    WATER_RGBA,
    WATER_SPOT,
    item_dict,
    load,
    write_cog,
)
from tests.tiles import colour_at, tile_of, tile_url
from tiler.model_versions import active_refs, model_filter

MOSAIC = "collections/landcover/tiles/WebMercatorQuad/{z}/{x}/{y}.png"


def test_the_active_version_is_the_setting_else_the_highest() -> None:
    registered = ["clc-spectral:1", "clc-spectral:2", "clc-dynamicworld:1", "clc-spectral:10"]
    assert active_refs(registered, {}) == ["clc-dynamicworld:1", "clc-spectral:10"]
    assert active_refs(registered, {"clc-spectral": "2"}) == ["clc-dynamicworld:1",
                                                              "clc-spectral:2"]
    # A setting naming a version with no items does not empty the map: the highest shows.
    assert active_refs(registered, {"clc-spectral": "7"})[1] == "clc-spectral:10"
    assert '"earthsig:model"' in model_filter(["clc-spectral:2"])


@pytest.fixture
def two_versions(pgstac_dsn: str, tmp_path: Path) -> Path:
    """The same footprint from clc-spectral 1 (water on the left, newer) and 2 (forest on
    the left): without a choice the newest, version 1, would cover version 2."""
    v1 = write_cog(tmp_path / "v1.tif", left=WATER, right=FOREST)
    v2 = write_cog(tmp_path / "v2.tif", left=FOREST, right=WATER)
    items = []
    for cog, ref, day in ((v2, "clc-spectral:2", 1), (v1, "clc-spectral:1", 2)):
        item = item_dict(cog, f"S2A_T31TCJ_{ref.replace(':', '_v')}",
                         datetime(2024, 6, day, 10, 46, tzinfo=UTC))
        item["properties"]["earthsig:model"] = ref
        items.append(item)
    collection = landcover_collection().to_dict()
    collection.setdefault("summaries", {})["earthsig:model"] = ["clc-spectral:1",
                                                                "clc-spectral:2"]
    load(pgstac_dsn, [collection], items)
    return tmp_path


@pytest.fixture
def tiler(pg_env: dict[str, str], two_versions: Path, request: pytest.FixtureRequest
          ) -> Iterator[str]:
    env = {**pg_env, "EARTHSIG_TILER_ASSET_ROOTS": str(two_versions),
           **getattr(request, "param", {})}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        yield url


def test_the_default_mosaic_shows_only_the_highest_version(tiler: str) -> None:
    assert colour_at(f"{tiler}/{MOSAIC}", WATER_SPOT, 14) == FOREST_RGBA  # version 2
    assert colour_at(f"{tiler}/{MOSAIC}?model=clc-spectral:1", WATER_SPOT, 14) == WATER_RGBA
    # Every item: the newest (version 1) on top, as before this rule.
    assert colour_at(f"{tiler}/{MOSAIC}?model=all", WATER_SPOT, 14) == WATER_RGBA


@pytest.mark.parametrize("tiler", [{"EARTHSIG_INFERENCE_ACTIVE_VERSIONS":
                                    '{"clc-spectral": "1"}'}], indirect=True)
def test_the_active_version_setting_decides(tiler: str) -> None:
    assert colour_at(f"{tiler}/{MOSAIC}", WATER_SPOT, 14) == WATER_RGBA


def test_tilejson_and_an_unknown_version(tiler: str) -> None:
    """TileJSON's tile URLs carry the choice; a version with no items is a 400 naming those
    that have some."""
    tilejson = httpx.get(f"{tiler}/collections/landcover/WebMercatorQuad/tilejson.json").json()
    [template] = tilejson["tiles"]
    assert "earthsig%3Amodel" in template or "earthsig:model" in template
    assert "clc-spectral%3A2" in template or "clc-spectral:2" in template
    bad = httpx.get(tile_url(f"{tiler}/{MOSAIC}?model=clc-spectral:9",
                             tile_of(WATER_SPOT, 14)))
    assert bad.status_code == 400
    assert "clc-spectral:1, clc-spectral:2" in bad.json()["detail"]
