"""The shared tile store (tiler.tile_store) on real tilers, pgstac and Redis: catalog tiles kept
across tiler processes until a write marks them changed (ingest.catalog.tile_invalidation), then
drawn again at once with the new pixels; tiles nothing changed stay; Redis gone costs no tile."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis

import tile_generations as gen
from catalog_schemas.collections import landcover_collection
from infra.postgres import libpq_env
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.tile_invalidation import catalog_namespace, mark_tiles_changed, redraw_all
from ingest.settings import IngestSettings
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
from tests.tiler.test_item_cache import HOUR, ITEM_ID, TILE, WHEN
from tests.tiles import ZOOM, decode_png, rgba_at, tile_of, tile_url

MOSAIC = "tiles/WebMercatorQuad/{z}/{x}/{y}.png?assets=landcover&colormap_name=clc"
FAR_AWAY = {"id": "elsewhere", "collection": "landcover", "bbox": [-5.0, 40.0, -4.0, 41.0]}


def register(dsn: str, store: str, run: Path, left: int, right: int,
             item_id: str = ITEM_ID, when: datetime = WHEN) -> dict:
    """Write an item as the pipeline does: pgstac first, then its tiles marked changed."""
    run.mkdir()
    item = item_dict(write_cog(run / "landcover.tif", left=left, right=right), item_id, when)
    load(dsn, [landcover_collection().to_dict()], [item])
    with pgstac_session(dsn) as db:
        mark_tiles_changed(db, [item], settings=IngestSettings(tile_store_url=store))
    return item


@contextmanager
def tiler(dsn: str, root: Path, store: str, item_ttl: str = HOUR) -> Iterator[str]:
    env = {**libpq_env(dsn), "EARTHSIG_TILER_ASSET_ROOTS": str(root),
           "EARTHSIG_TILER_ITEM_CACHE_TTL": item_ttl, "EARTHSIG_TILER_TILE_CACHE_TTL": "0",
           "EARTHSIG_TILE_STORE_URL": store}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        yield url


def _get(url: str) -> httpx.Response:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response


def _colour(response: httpx.Response, z: int = ZOOM) -> tuple[int, ...]:
    return rgba_at(decode_png(response.content), tile_of(WATER_SPOT, z), WATER_SPOT)


def test_a_tile_drawn_by_one_tiler_is_served_by_another(pgstac_dsn: str, redis_url: str,
                                                        tmp_path: Path) -> None:
    register(pgstac_dsn, redis_url, tmp_path / "run-1", WATER, FOREST)
    path = f"/collections/landcover/items/{ITEM_ID}/{TILE}"
    tile = tile_of(WATER_SPOT, ZOOM)
    with tiler(pgstac_dsn, tmp_path, redis_url) as one, \
            tiler(pgstac_dsn, tmp_path, redis_url) as two:
        drawn = _get(tile_url(one + path, tile))
        assert drawn.headers["x-tile-cache"] == "miss" and _colour(drawn) == WATER_RGBA
        again = _get(tile_url(two + path, tile))
        assert again.headers["x-tile-cache"] == "hit"
        assert again.content == drawn.content
        assert again.headers["content-type"] == "image/png"
        assert again.headers["cache-control"] == drawn.headers["cache-control"]


def test_a_registration_shows_at_once_whatever_the_caches_hold(pgstac_dsn: str, redis_url: str,
                                                               tmp_path: Path) -> None:
    register(pgstac_dsn, redis_url, tmp_path / "run-1", WATER, FOREST)
    url = f"/collections/landcover/items/{ITEM_ID}/{TILE}"
    tile = tile_of(WATER_SPOT, ZOOM)
    # Item cache for an hour, the old run's files kept: only the store's tokens can tell.
    with tiler(pgstac_dsn, tmp_path, redis_url, item_ttl=HOUR) as base:
        assert _colour(_get(tile_url(base + url, tile))) == WATER_RGBA
        assert _get(tile_url(base + url, tile)).headers["x-tile-cache"] == "hit"
        register(pgstac_dsn, redis_url, tmp_path / "run-2", FOREST, WATER)  # re-processed
        redrawn = _get(tile_url(base + url, tile))
        assert redrawn.headers["x-tile-cache"] == "miss"
        assert _colour(redrawn) == FOREST_RGBA
        assert _get(tile_url(base + url, tile)).headers["x-tile-cache"] == "hit"


def test_mosaic_tiles_change_only_where_an_item_changed(pgstac_dsn: str, redis_url: str,
                                                        tmp_path: Path) -> None:
    register(pgstac_dsn, redis_url, tmp_path / "run-1", WATER, FOREST)
    tile = tile_of(WATER_SPOT, ZOOM)
    with tiler(pgstac_dsn, tmp_path, redis_url) as base:
        url = tile_url(f"{base}/collections/landcover/{MOSAIC}", tile)
        assert _colour(_get(url)) == WATER_RGBA
        with pgstac_session(pgstac_dsn) as db:  # a change in Spain: this tile stays
            mark_tiles_changed(db, [FAR_AWAY], settings=IngestSettings(tile_store_url=redis_url))
        assert _get(url).headers["x-tile-cache"] == "hit"
        # A newer product over the same place: on top of the mosaic, at once.
        register(pgstac_dsn, redis_url, tmp_path / "run-2", FOREST, WATER,
                 item_id=ITEM_ID.replace("20240601", "20240611"),
                 when=datetime(2024, 6, 11, 10, 46, 21, tzinfo=UTC))
        redrawn = _get(url)
        assert redrawn.headers["x-tile-cache"] == "miss" and _colour(redrawn) == FOREST_RGBA


def test_other_routes_use_the_memory_cache_and_errors_are_never_kept(
        pgstac_dsn: str, redis_url: str, tmp_path: Path) -> None:
    item = register(pgstac_dsn, redis_url, tmp_path / "run-1", WATER, FOREST)
    tile = tile_of(WATER_SPOT, ZOOM)
    with tiler(pgstac_dsn, tmp_path, redis_url) as base:
        missing = tile_url(f"{base}/collections/landcover/items/nope/{TILE}", tile)
        assert [httpx.get(missing, timeout=30).status_code for _ in range(2)] == [404, 404]
        cog = tile_url(f"{base}/cog/{TILE.split('?')[0]}?url={item['assets']['landcover']['href']}"
                       "&colormap_name=clc", tile)
        assert _get(cog).headers.get("x-tile-cache") is None  # memory cache off here
    client = redis.Redis.from_url(redis_url)
    kept = [k for k in client.scan_iter(f"{gen.PREFIX}:*:tile:*")]
    assert kept == []  # neither the 404s nor the /cog tile went to the store


def test_an_unreachable_store_costs_no_tile(pgstac_dsn: str, tmp_path: Path) -> None:
    register(pgstac_dsn, "", tmp_path / "run-1", WATER, FOREST)
    with tiler(pgstac_dsn, tmp_path, "redis://127.0.0.1:9/0") as base:
        url = tile_url(f"{base}/collections/landcover/items/{ITEM_ID}/{TILE}",
                       tile_of(WATER_SPOT, ZOOM))
        for _ in range(2):
            response = _get(url)
            assert _colour(response) == WATER_RGBA
            assert response.headers.get("x-tile-cache") is None  # drawn, nothing kept


def test_a_writer_that_cannot_mark_fails_as_transient(pgstac_dsn: str) -> None:
    from ingest.errors import TransientError

    with pgstac_session(pgstac_dsn) as db, pytest.raises(TransientError, match="tile store"):
        mark_tiles_changed(db, [FAR_AWAY],
                           settings=IngestSettings(tile_store_url="redis://127.0.0.1:9/0"))


def test_marks_are_namespaced_by_database(pgstac_dsn: str, redis_url: str) -> None:
    with pgstac_session(pgstac_dsn) as db:
        namespace = catalog_namespace(db)
        mark_tiles_changed(db, [FAR_AWAY], settings=IngestSettings(tile_store_url=redis_url))
    database = pgstac_dsn.rsplit("/", 1)[1].split("?")[0]
    assert namespace.startswith(database + ".")
    client = redis.Redis.from_url(redis_url)
    keys = {k.decode() for k in client.scan_iter(f"{gen.PREFIX}:*")}
    assert gen.item_key(namespace, "landcover", "elsewhere") in keys
    assert gen.collection_key(namespace, "landcover") in keys  # its model versions may differ
    assert all(k.startswith(f"{gen.PREFIX}:{namespace}:") for k in keys)
    # Every cell from z0 to z12 over the bbox, and nothing else.
    assert len(keys) == 2 + len(set(gen.cells_under((-5.0, 40.0, -4.0, 41.0))))
    assert client.ttl(next(iter(keys))) > gen.TOKEN_TTL_S - 60


def test_redraw_draws_every_stored_tile_again(pgstac_dsn: str, redis_url: str,
                                              tmp_path: Path) -> None:
    register(pgstac_dsn, redis_url, tmp_path / "run-1", WATER, FOREST)
    with tiler(pgstac_dsn, tmp_path, redis_url) as base:
        url = tile_url(f"{base}/collections/landcover/items/{ITEM_ID}/{TILE}",
                       tile_of(WATER_SPOT, ZOOM))
        assert [_get(url).headers["x-tile-cache"] for _ in range(2)] == ["miss", "hit"]
        assert redraw_all(pgstac_dsn, IngestSettings(_env_file=None, tile_store_url=redis_url))
        assert [_get(url).headers["x-tile-cache"] for _ in range(2)] == ["miss", "hit"]
    assert not redraw_all(pgstac_dsn, IngestSettings(_env_file=None, tile_store_url=""))


def test_the_redraw_command_without_a_store_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from infra.cli import main

    monkeypatch.setenv("EARTHSIG_TILE_STORE_URL", "")
    result = CliRunner().invoke(main, ["tiles", "redraw"])
    assert result.exit_code == 2 and "EARTHSIG_TILE_STORE_URL" in result.output
