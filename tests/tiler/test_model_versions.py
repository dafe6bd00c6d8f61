"""One model version per map: the collection's mosaic shows the active version of each model
(issue 21, point 4); a parameter asks for another. The versions a collection has are read again
as soon as a registration or a retire marks it changed in the tile store, not a minute later."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import httpx
import pystac
import pytest
import redis

import tile_generations as gen
from catalog_schemas.collections import landcover_collection
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.register import landcover_definition, upsert_item
from ingest.catalog.tile_invalidation import catalog_namespace
from ingest.orchestration.operations import retire
from ingest.settings import IngestSettings
from tests.servers import free_port, uvicorn_server
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
TILEJSON = "collections/landcover/WebMercatorQuad/tilejson.json"


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


def _tile_template(tiler: str) -> str:
    response = httpx.get(f"{tiler}/{TILEJSON}", timeout=30)
    assert response.status_code == 200, response.text
    [template] = response.json()["tiles"]
    return unquote(template)


def test_tilejson_and_an_unknown_version(tiler: str) -> None:
    """TileJSON's tile URLs carry the choice; a version with no items is a 400 naming those
    that have some, in the tiler's error body."""
    template = _tile_template(tiler)
    assert '"earthsig:model"' in template and '"clc-spectral:2"' in template
    bad = httpx.get(tile_url(f"{tiler}/{MOSAIC}?model=clc-spectral:9",
                             tile_of(WATER_SPOT, 14)))
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == "InvalidParameter"
    assert body["description"] == (
        "model: names no model version with items in collection 'landcover' "
        "(got 'clc-spectral:9'); expected one of clc-spectral:1, clc-spectral:2, or all")
    assert body["detail"] == body["description"]  # for titiler's clients, which read detail


@pytest.fixture
def no_redis() -> dict[str, str]:
    return {"EARTHSIG_TILE_STORE_URL": f"redis://127.0.0.1:{free_port()}/0"}


def test_without_redis_the_versions_are_still_chosen(
        pg_env: dict[str, str], two_versions: Path, no_redis: dict[str, str]) -> None:
    """A tile store configured but unreachable: no change tokens, the versions read all the
    same (and kept for the time to live)."""
    env = {**pg_env, "EARTHSIG_TILER_ASSET_ROOTS": str(two_versions), **no_redis}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        for _ in range(2):
            assert colour_at(f"{url}/{MOSAIC}", WATER_SPOT, 14) == FOREST_RGBA


def _publish(dsn: str, store: str, cog: Path, ref: str, day: int) -> None:
    """A product of model version ``ref`` registered as the pipeline registers it: the item
    upserted, the collection's models summary refreshed, the change marked in the store."""
    item = item_dict(cog, f"S2A_T31TCJ_{ref.replace(':', '_v')}",
                     datetime(2024, 6, day, 10, 46, tzinfo=UTC))
    item["properties"]["earthsig:model"] = ref
    settings = IngestSettings(_env_file=None, tile_store_url=store)
    assert upsert_item(pystac.Item.from_dict(item), landcover_definition(), dsn, settings)


def test_a_new_versions_first_product_is_on_the_very_next_map_request(
        pg_env: dict[str, str], pgstac_dsn: str, redis_url: str, tmp_path: Path) -> None:
    """The map is open on version 1 when version 2's first product is published (older, so
    only the model choice can put it on top): the next tile and TileJSON show version 2, at
    once; version 2 retired, the next ones show version 1 again and refuse ``model=`` 2."""
    v1 = write_cog(tmp_path / "v1.tif", left=WATER, right=FOREST)
    v2 = write_cog(tmp_path / "v2.tif", left=FOREST, right=WATER)
    _publish(pgstac_dsn, redis_url, v1, "clc-spectral:1", day=2)
    with pgstac_session(pgstac_dsn) as db:
        catalog = gen.catalog_key(catalog_namespace(db))
    tokens = redis.Redis.from_url(redis_url)
    env = {**pg_env, "EARTHSIG_TILER_ASSET_ROOTS": str(tmp_path),
           "EARTHSIG_TILE_STORE_URL": redis_url}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        assert colour_at(f"{url}/{MOSAIC}", WATER_SPOT, 14) == WATER_RGBA
        assert '"clc-spectral:1"' in _tile_template(url)
        before = tokens.get(catalog)

        _publish(pgstac_dsn, redis_url, v2, "clc-spectral:2", day=1)
        assert tokens.get(catalog) == before  # not a catalog-wide change: its collection's
        assert colour_at(f"{url}/{MOSAIC}", WATER_SPOT, 14) == FOREST_RGBA
        template = _tile_template(url)
        assert '"clc-spectral:2"' in template and '"clc-spectral:1"' not in template

        retire("clc-spectral:2", dsn=pgstac_dsn, ingest=IngestSettings(
            _env_file=None, home=tmp_path / "home", tile_store_url=redis_url))
        assert colour_at(f"{url}/{MOSAIC}", WATER_SPOT, 14) == WATER_RGBA
        gone = httpx.get(tile_url(f"{url}/{MOSAIC}?model=clc-spectral:2",
                                  tile_of(WATER_SPOT, 14)))
        assert gone.status_code == 400, gone.text


def test_a_version_written_through_the_stac_api_is_on_the_next_map_request(
        pg_env: dict[str, str], pgstac_dsn: str, redis_url: str, tmp_path: Path) -> None:
    """The same as a registration, through the STAC API's transactions: the API refreshes the
    collection's models summary in the write's transaction and marks the collection changed,
    so the tiler's next tile shows the version only the API wrote; deleted through the API,
    the map is back on version 1."""
    v1 = write_cog(tmp_path / "v1.tif", left=WATER, right=FOREST)
    v2 = write_cog(tmp_path / "v2.tif", left=FOREST, right=WATER)
    _publish(pgstac_dsn, redis_url, v1, "clc-spectral:1", day=2)
    item = item_dict(v2, "S2A_T31TCJ_api_v2", datetime(2024, 6, 1, 10, 46, tzinfo=UTC))
    item["properties"]["earthsig:model"] = "clc-spectral:2"
    key = {"X-API-Key": "k3y-for-tests"}
    tiler_env = {**pg_env, "EARTHSIG_TILER_ASSET_ROOTS": str(tmp_path),
                 "EARTHSIG_TILE_STORE_URL": redis_url}
    api_env = {**pg_env, "ENABLE_TRANSACTIONS_EXTENSIONS": "true",
               "EARTHSIG_API_KEYS": key["X-API-Key"], "EARTHSIG_TILE_STORE_URL": redis_url}
    with (uvicorn_server("tiler.app:create_app", tiler_env, health_path="/healthz") as url,
          uvicorn_server("stac_api.app:create_app", api_env, health_path="/_mgmt/health")
          as api):
        assert colour_at(f"{url}/{MOSAIC}", WATER_SPOT, 14) == WATER_RGBA

        created = httpx.post(f"{api}/collections/landcover/items", json=item, headers=key)
        assert created.status_code == 201, created.text
        assert colour_at(f"{url}/{MOSAIC}", WATER_SPOT, 14) == FOREST_RGBA
        assert '"clc-spectral:2"' in _tile_template(url)

        deleted = httpx.delete(f"{api}/collections/landcover/items/{item['id']}", headers=key)
        assert deleted.status_code == 200, deleted.text
        assert colour_at(f"{url}/{MOSAIC}", WATER_SPOT, 14) == WATER_RGBA
