"""Rendered tiles shared between clients for a few seconds (tiler.tile_cache), on a real
tiler over pgstac: the same bytes again, only successful images, and new pixels once the
time to live is over."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.tiler.landcover_data import FOREST, FOREST_RGBA, WATER, WATER_RGBA, WATER_SPOT
from tests.tiler.test_item_cache import HOUR, publish, tiler
from tests.tiles import ZOOM, colour_at, tile_of, tile_url
from tiler.tile_cache import TileCache


def _get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30)


def test_a_repeated_tile_is_the_same_image_from_the_cache(pgstac_dsn: str,
                                                          tmp_path: Path) -> None:
    publish(pgstac_dsn, tmp_path / "run-1", WATER, FOREST)
    with tiler(pgstac_dsn, tmp_path, ttl="0", tile_ttl=HOUR) as item_tiles:
        url = tile_url(item_tiles, tile_of(WATER_SPOT, ZOOM))
        first, second = _get(url), _get(url)
        assert (first.status_code, second.status_code) == (200, 200)
        assert first.headers["x-tile-cache"] == "miss"
        assert second.headers["x-tile-cache"] == "hit"
        assert second.content == first.content and second.content[:4] == b"\x89PNG"
        assert second.headers["content-type"] == first.headers["content-type"] == "image/png"
        assert second.headers["cache-control"] == first.headers["cache-control"]
        # Another query is another tile.
        other = _get(url.replace("colormap_name=clc", "colormap_name=viridis"))
        assert other.headers["x-tile-cache"] == "miss" and other.content != first.content


def test_errors_are_never_cached(pgstac_dsn: str, tmp_path: Path) -> None:
    publish(pgstac_dsn, tmp_path / "run-1", WATER, FOREST)
    with tiler(pgstac_dsn, tmp_path, ttl="0", tile_ttl=HOUR) as item_tiles:
        missing = tile_url(item_tiles.replace("/items/S2A", "/items/nope-S2A"),
                           tile_of(WATER_SPOT, ZOOM))
        for _ in range(2):
            response = _get(missing)
            assert response.status_code == 404
            assert response.headers["x-tile-cache"] == "miss"
        bad = tile_url(item_tiles, tile_of(WATER_SPOT, ZOOM)) + "&colormap_name=nope"
        assert [_get(bad).status_code for _ in range(2)] == [422, 422]


def test_a_reprocessed_item_shows_once_the_cached_tile_expires(pgstac_dsn: str,
                                                               tmp_path: Path) -> None:
    publish(pgstac_dsn, tmp_path / "run-1", WATER, FOREST)
    with tiler(pgstac_dsn, tmp_path, ttl="0", tile_ttl="2") as item_tiles:
        assert colour_at(item_tiles, WATER_SPOT) == WATER_RGBA
        publish(pgstac_dsn, tmp_path / "run-2", FOREST, WATER)  # classes swapped
        assert colour_at(item_tiles, WATER_SPOT) == WATER_RGBA  # within the 2 s: cached
        time.sleep(2.2)
        assert colour_at(item_tiles, WATER_SPOT) == FOREST_RGBA


def test_zero_ttl_renders_every_request(pgstac_dsn: str, tmp_path: Path) -> None:
    publish(pgstac_dsn, tmp_path / "run-1", WATER, FOREST)
    with tiler(pgstac_dsn, tmp_path, ttl="0", tile_ttl="0") as item_tiles:
        url = tile_url(item_tiles, tile_of(WATER_SPOT, ZOOM))
        assert "x-tile-cache" not in _get(url).headers
        publish(pgstac_dsn, tmp_path / "run-2", FOREST, WATER)
        assert colour_at(item_tiles, WATER_SPOT) == FOREST_RGBA


def test_the_cache_keeps_to_its_size_least_recently_used_out_first() -> None:
    cache = TileCache(ttl=60, max_bytes=1600)  # at most 100 bytes an entry
    keys = [f"tile-{n}".encode() for n in range(16)]
    for key in keys:
        cache.put(key, [], b"x" * 100)
    assert cache.size == 1600
    assert cache.get(keys[0]) is not None  # tile-0 is now the most recently used
    cache.put(b"tile-16", [], b"x" * 100)  # over the bound: the least recently used goes
    assert cache.get(keys[1]) is None
    assert all(cache.get(k) is not None for k in [keys[0], *keys[2:], b"tile-16"])
    assert cache.size == 1600
    cache.put(b"huge", [], b"x" * 101)  # over max_bytes / 16: not kept
    assert cache.get(b"huge") is None and cache.size == 1600


def test_entries_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("tiler.tile_cache.time.monotonic", lambda: now[0])
    cache = TileCache(ttl=5, max_bytes=1000)
    cache.put(b"t", [(b"content-type", b"image/png")], b"png")
    now[0] += 4.9
    hit = cache.get(b"t")
    assert hit is not None and hit.body == b"png"
    now[0] += 0.2
    assert cache.get(b"t") is None and cache.size == 0


def test_the_order_of_parameters_makes_no_other_tile(pgstac_dsn: str, tmp_path: Path) -> None:
    publish(pgstac_dsn, tmp_path / "run-1", WATER, FOREST)
    with tiler(pgstac_dsn, tmp_path, ttl="0", tile_ttl=HOUR) as item_tiles:
        url = tile_url(item_tiles, tile_of(WATER_SPOT, ZOOM))
        path, query = url.split("?")
        swapped = f"{path}?{'&'.join(reversed(query.split('&')))}&tilesize=256"
        first, second = _get(url), _get(swapped)
        assert swapped != url and first.headers["x-tile-cache"] == "miss"
        assert second.headers["x-tile-cache"] == "hit" and second.content == first.content
