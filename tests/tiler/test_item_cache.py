"""The item cache of item tiles (tiler.items) and single-asset reads (tiler.readers).

A re-processed item is published in a new run folder and the old run is deleted right after
(ingest.outputs.store.prune): a cached item must not outlive its files, whatever the TTL.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from catalog_schemas.collections import landcover_collection
from infra.postgres import libpq_env
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import (
    FOREST,
    FOREST_RGBA,
    FOREST_SPOT,
    WATER,
    WATER_RGBA,
    WATER_SPOT,
    item_dict,
    load,
    write_cog,
)
from tests.tiles import ZOOM, colour_at, tile_of, tile_url
from tiler.readers import _in_request_thread

ITEM_ID = "S2A_MSIL2A_20240601T104621_N0510_R051_T31TCJ_clc-v1"
WHEN = datetime(2024, 6, 1, 10, 46, 21, tzinfo=UTC)
TILE = "tiles/WebMercatorQuad/{z}/{x}/{y}.png?assets=landcover&colormap_name=clc"
HOUR = "3600"


def publish(dsn: str, run: Path, left: int, right: int) -> Path:
    """The item's landcover in a run folder, registered in pgstac (as the pipeline does)."""
    run.mkdir()
    cog = write_cog(run / "landcover.tif", left=left, right=right)
    load(dsn, [landcover_collection().to_dict()], [item_dict(cog, ITEM_ID, WHEN)])
    return cog


@contextmanager
def tiler(dsn: str, root: Path, ttl: str, tile_ttl: str = "0") -> Iterator[str]:
    """The tiler, its item cache kept ``ttl`` s and rendered tiles ``tile_ttl`` s (here off:
    these tests are about the items behind the tiles)."""
    env = {**libpq_env(dsn), "EARTHSIG_TILER_ASSET_ROOTS": str(root),
           "EARTHSIG_TILER_ITEM_CACHE_TTL": ttl, "EARTHSIG_TILER_TILE_CACHE_TTL": tile_ttl}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        yield f"{url}/collections/landcover/items/{ITEM_ID}/{TILE}"


def test_a_reprocessed_item_is_served_with_its_new_pixels(pgstac_dsn: str,
                                                          tmp_path: Path) -> None:
    first = tmp_path / "run-1"
    publish(pgstac_dsn, first, WATER, FOREST)
    with tiler(pgstac_dsn, tmp_path, ttl=HOUR) as item_tiles:
        assert colour_at(item_tiles, WATER_SPOT) == WATER_RGBA  # now cached for an hour
        publish(pgstac_dsn, tmp_path / "run-2", FOREST, WATER)  # re-processed: classes swapped
        shutil.rmtree(first)  # the pipeline prunes the earlier run
        assert colour_at(item_tiles, WATER_SPOT) == FOREST_RGBA
        assert colour_at(item_tiles, FOREST_SPOT) == WATER_RGBA


def test_the_cache_reuses_an_item_within_its_ttl(pgstac_dsn: str, tmp_path: Path) -> None:
    # The old run is kept here, so only the TTL decides which run is served.
    publish(pgstac_dsn, tmp_path / "run-1", WATER, FOREST)
    with tiler(pgstac_dsn, tmp_path, ttl=HOUR) as item_tiles:
        assert colour_at(item_tiles, WATER_SPOT) == WATER_RGBA
        publish(pgstac_dsn, tmp_path / "run-2", FOREST, WATER)
        assert colour_at(item_tiles, WATER_SPOT) == WATER_RGBA  # the cached item's run


def test_a_zero_ttl_reads_the_item_on_every_request(pgstac_dsn: str, tmp_path: Path) -> None:
    publish(pgstac_dsn, tmp_path / "run-1", WATER, FOREST)
    with tiler(pgstac_dsn, tmp_path, ttl="0") as item_tiles:
        assert colour_at(item_tiles, WATER_SPOT) == WATER_RGBA
        publish(pgstac_dsn, tmp_path / "run-2", FOREST, WATER)
        assert colour_at(item_tiles, WATER_SPOT) == FOREST_RGBA


def test_an_item_deleted_from_pgstac_with_its_files_is_a_404(pgstac_dsn: str,
                                                            tmp_path: Path) -> None:
    publish(pgstac_dsn, tmp_path / "run-1", WATER, FOREST)
    with tiler(pgstac_dsn, tmp_path, ttl=HOUR) as item_tiles:
        assert colour_at(item_tiles, WATER_SPOT) == WATER_RGBA
        with psycopg.connect(pgstac_dsn, autocommit=True) as conn:
            conn.execute("SET search_path TO pgstac, public")
            conn.execute("SELECT delete_item(%s, %s)", (ITEM_ID, "landcover"))
        shutil.rmtree(tmp_path / "run-1")
        response = httpx.get(tile_url(item_tiles, tile_of(WATER_SPOT, ZOOM)), timeout=30)
        assert response.status_code == 404, response.text
        assert ITEM_ID in response.json()["detail"]


def test_one_asset_is_read_in_the_request_thread_several_in_parallel() -> None:
    assert _in_request_thread({"assets": ["landcover"]})["threads"] == 1
    assert _in_request_thread({"assets": "landcover"})["threads"] == 1
    assert "threads" not in _in_request_thread({"assets": ["landcover", "cloudmask"]})
    assert "threads" not in _in_request_thread({"expression": "landcover_b1*2"})
    assert _in_request_thread({"assets": ["landcover"], "threads": 4})["threads"] == 4


def test_an_items_zoom_range_is_worked_out_once_per_files(tmp_path: Path) -> None:
    import morecantile
    import pystac

    from tiler import readers

    run_1, run_2 = tmp_path / "run-1", tmp_path / "run-2"
    run_1.mkdir()
    run_2.mkdir()
    tms = morecantile.tms.get("WebMercatorQuad")
    first = pystac.Item.from_dict(item_dict(write_cog(run_1 / "landcover.tif"), ITEM_ID, WHEN))
    computed = readers.ItemReader(first, tms=tms)
    key = ("WebMercatorQuad", ITEM_ID, (str(run_1 / "landcover.tif"),))
    assert readers._ZOOMS[key] == (computed.minzoom, computed.maxzoom)
    readers._ZOOMS[key] = (3, 4)  # a remembered range is used as it is...
    again = readers.ItemReader(first, tms=tms)
    assert (again.minzoom, again.maxzoom) == (3, 4)
    # ...for the same files only: the re-processed item is worked out again.
    second = pystac.Item.from_dict(item_dict(write_cog(run_2 / "landcover.tif"), ITEM_ID, WHEN))
    assert readers.ItemReader(second, tms=tms).minzoom == computed.minzoom
    given = readers.ItemReader(first, tms=tms, minzoom=5, maxzoom=9)  # explicit zooms win
    assert (given.minzoom, given.maxzoom) == (5, 9)
