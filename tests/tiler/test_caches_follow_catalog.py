"""The tiler's in-process caches of the catalog follow its writes at once (tiler.token_cache).

A collection's default render, the classes its legend lists and the items behind an item's
routes are kept in each tiler process; with a tile store, each is used only while the change
tokens its writers mark are unchanged. Here every change goes through a real writer (the
pipeline's registration, the STAC API's transactions), the tiler's own caches are kept an hour
(so only the tokens can tell), and the very next request must show it. The tokens are read
once per request, whatever number of caches ask.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pystac
import redis
from fastapi.testclient import TestClient

import tile_generations as gen
from catalog_schemas.assets import LANDCOVER_ASSET
from catalog_schemas.collections import classification_classes
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.register import landcover_definition, upsert_item
from ingest.catalog.tile_invalidation import catalog_namespace
from ingest.settings import IngestSettings
from stac_api.app import create_app as create_stac_api
from stac_api.settings import AuthSettings, PostgresSettings, Settings, TileStoreSettings
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import (
    FOREST,
    FOREST_RGBA,
    WATER,
    WATER_RGBA,
    WATER_SPOT,
    item_dict,
    write_cog,
)
from tests.tiler.test_item_cache import HOUR, ITEM_ID, WHEN
from tests.tiles import colour_at, decode_png, tile_of, tile_url
from tiler.tile_store import ChangeTokens
from tiler.token_cache import TokenCache

MODEL = "clc-spectral:1"
MOSAIC = "collections/landcover/tiles/WebMercatorQuad/{z}/{x}/{y}.png"
ITEM = f"collections/landcover/items/{ITEM_ID}"
POINT = f"{ITEM}/point/{WATER_SPOT.lon},{WATER_SPOT.lat}"
KEY = "k3y-for-tests"


def publish(dsn: str, store: str, run: Path, left: int, right: int, item_id: str = ITEM_ID,
            classes: tuple[int, ...] | None = None) -> dict:
    """A product registered as the pipeline registers it (``upsert_item``: the item, the
    collection's summaries, the change marked in the store), its landcover in ``run``."""
    run.mkdir()
    item = item_dict(write_cog(run / "landcover.tif", left=left, right=right), item_id, WHEN)
    item["properties"]["earthsig:model"] = MODEL
    if classes is not None:
        item["assets"][LANDCOVER_ASSET]["classification:classes"] = classification_classes(
            classes)
    settings = IngestSettings(_env_file=None, tile_store_url=store)
    assert upsert_item(pystac.Item.from_dict(item), landcover_definition(), dsn, settings)
    return item


@contextmanager
def tiler(pg_env: dict[str, str], root: Path, store: str) -> Iterator[str]:
    """The tiler on the store, its item and legend caches kept an hour."""
    env = {**pg_env, "EARTHSIG_TILER_ASSET_ROOTS": str(root), "EARTHSIG_TILE_STORE_URL": store,
           "EARTHSIG_TILER_ITEM_CACHE_TTL": HOUR, "EARTHSIG_TILER_LEGEND_CACHE_TTL": HOUR}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        yield url


@contextmanager
def stac_api(pg_env: dict[str, str], store: str) -> Iterator[TestClient]:
    """The STAC API with its transactions, marking its writes in the store; key sent."""
    pg = PostgresSettings(_env_file=None, **{k.lower(): v for k, v in pg_env.items()})
    app = create_stac_api(Settings(_env_file=None, enable_transactions_extensions=True), pg,
                          auth=AuthSettings(_env_file=None, keys=[KEY]),
                          tile_store=TileStoreSettings(_env_file=None, tile_store_url=store))
    with TestClient(app, headers={"X-API-Key": KEY}) as client:
        yield client


def legend_codes(tiler_url: str) -> list[int]:
    response = httpx.get(f"{tiler_url}/legends/clc", params={"collection": "landcover"},
                         timeout=30)
    assert response.status_code == 200, response.text
    return sorted(int(entry["code"]) for entry in response.json()["entries"])


def point(tiler_url: str) -> httpx.Response:
    return httpx.get(f"{tiler_url}/{POINT}", params={"assets": "landcover"}, timeout=30)


def preview_left(tiler_url: str) -> tuple[int, ...]:
    """The colour of the item's preview (its own grid: left half, right half) on the left."""
    response = httpx.get(f"{tiler_url}/{ITEM}/preview.png",
                         params={"assets": "landcover", "colormap_name": "clc",
                                 "max_size": "64"}, timeout=30)
    assert response.status_code == 200, response.text
    image = decode_png(response.content)
    return tuple(int(v) for v in image[:, image.shape[1] // 2, image.shape[2] // 4])


def test_the_legend_lists_a_class_from_the_product_that_brings_it(
        pg_env: dict[str, str], pgstac_dsn: str, redis_url: str, tmp_path: Path) -> None:
    publish(pgstac_dsn, redis_url, tmp_path / "run-1", WATER, FOREST, classes=(311, 512))
    with tiler(pg_env, tmp_path, redis_url) as url:
        assert legend_codes(url) == [311, 512]
        publish(pgstac_dsn, redis_url, tmp_path / "run-2", WATER, FOREST,
                item_id=ITEM_ID.replace("20240601", "20240611"), classes=(211, 311, 512))
        assert legend_codes(url) == [211, 311, 512]


def test_a_new_default_render_is_used_by_the_next_bare_tile(
        pg_env: dict[str, str], pgstac_dsn: str, redis_url: str, tmp_path: Path) -> None:
    """QGIS's bare URL draws the collection's default render; the render rewritten through the
    STAC API (a collection write: the catalog's token), the next tile is in its colours."""
    publish(pgstac_dsn, redis_url, tmp_path / "run-1", WATER, FOREST)
    with tiler(pg_env, tmp_path, redis_url) as url, stac_api(pg_env, redis_url) as api:
        assert colour_at(f"{url}/{MOSAIC}", WATER_SPOT) == WATER_RGBA
        collection = api.get("/collections/landcover").json()
        render = collection["renders"]["landcover"]
        del render["colormap_name"]
        render["colormap"] = {str(WATER): "#ff0000", str(FOREST): "#0000ff"}
        assert api.put("/collections/landcover", json=collection).status_code == 200
        assert colour_at(f"{url}/{MOSAIC}", WATER_SPOT) == (255, 0, 0, 255)


def test_a_republished_item_is_served_at_once_and_a_deleted_one_no_more(
        pg_env: dict[str, str], pgstac_dsn: str, redis_url: str, tmp_path: Path) -> None:
    """Re-processed (same id, a new run; the old run's files still there, so only the tokens
    can tell): its new values and pixels on the next request. Deleted through the STAC API
    (its files left): the next request is a 404."""
    publish(pgstac_dsn, redis_url, tmp_path / "run-1", WATER, FOREST)
    with tiler(pg_env, tmp_path, redis_url) as url, stac_api(pg_env, redis_url) as api:
        assert point(url).json()["values"] == [WATER]
        assert preview_left(url) == WATER_RGBA
        publish(pgstac_dsn, redis_url, tmp_path / "run-2", FOREST, WATER)
        assert point(url).json()["values"] == [FOREST]
        assert preview_left(url) == FOREST_RGBA

        assert api.delete(f"/{ITEM}").status_code == 200
        gone = point(url)
        assert gone.status_code == 404, gone.text
        tile = httpx.get(tile_url(f"{url}/{ITEM}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
                                  "?assets=landcover", tile_of(WATER_SPOT)), timeout=30)
        assert tile.status_code == 404, tile.text


class TokenReads:
    """How often the tiler reads a collection's change token: the MGETs naming it, seen by
    Redis's MONITOR (commands of other catalogs, namespaced by database, left out)."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.client, self.marker = client, f"{gen.PREFIX}:{namespace}:collection:"

    def during(self, request: httpx.Request) -> int:
        with self.client.monitor() as monitor:
            response = httpx.Client(timeout=30).send(request)
            assert response.status_code == 200, response.text
            done = f"done-{id(request)}"
            self.client.echo(done)  # everything the request sent came before this
            reads = 0
            while (command := monitor.next_command()["command"]) != f"ECHO {done}":
                reads += command.startswith("MGET") and self.marker in command
            return reads


def test_one_token_read_per_request_whatever_the_caches(
        pg_env: dict[str, str], pgstac_dsn: str, redis_url: str, tmp_path: Path) -> None:
    publish(pgstac_dsn, redis_url, tmp_path / "run-1", WATER, FOREST, classes=(311, 512))
    with pgstac_session(pgstac_dsn) as db:
        reads = TokenReads(redis.Redis.from_url(redis_url), catalog_namespace(db))
    with tiler(pg_env, tmp_path, redis_url) as url:
        tile = tile_of(WATER_SPOT)

        def get(path: str, **params: Any) -> httpx.Request:
            return httpx.Request("GET", f"{url}/{path}", params=params)

        # Model versions and the default render: one read.
        assert reads.during(get(tile_url(MOSAIC, tile))) == 1
        # The default render and the item: one read.
        assert reads.during(get(POINT)) == 1
        assert reads.during(get(POINT, assets="landcover")) == 1
        assert reads.during(get("legends/clc", collection="landcover")) == 1
        # A tile of the store reads the catalog fresh: its own lookup is all.
        item_tile = tile_url(f"{ITEM}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png", tile)
        assert reads.during(get(item_tile, assets="landcover")) == 0


def test_an_entry_is_used_while_its_tokens_are_unchanged_or_unknown() -> None:
    cache: TokenCache[str, str] = TokenCache(3600, ChangeTokens.of_item)
    read_under = ChangeTokens("catalog-1", "collection-1", "item-1")
    cache.put("a", read_under, "kept")
    assert cache.get("a", read_under) == "kept"
    # Another item of the collection written: still this item's value.
    assert cache.get("a", ChangeTokens("catalog-1", "collection-2", "item-1")) == "kept"
    assert cache.get("a", ChangeTokens("catalog-1", "collection-2", "item-2")) is None
    assert cache.get("a", ChangeTokens("catalog-2", "collection-1", "item-1")) is None
    assert cache.get("a", None) == "kept"  # Redis unreachable: the time to live decides
    cache.put("b", None, "unknown")
    assert cache.get("b", read_under) is None  # read without tokens: not known to be current
    off: TokenCache[str, str] = TokenCache(0, ChangeTokens.of_item)
    off.put("a", read_under, "kept")
    assert off.get("a", read_under) is None
    assert off.get_or_read("a", read_under, lambda: "read") == "read"

