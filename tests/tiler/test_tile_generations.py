"""Which tokens a tile depends on (tile_generations, tiler.tile_store) and the
store's size bound on a real Redis."""

from __future__ import annotations

import asyncio
import random

import morecantile
import redis

import tile_generations as gen
from tiler.tile_store import Lookup, TileStore, canonical_query, token_keys

WMQ = morecantile.tms.get("WebMercatorQuad")


def test_every_tile_over_an_item_depends_on_a_cell_the_item_marks() -> None:
    rng = random.Random(7)
    for _ in range(20):
        west, south = rng.uniform(-10, 30), rng.uniform(35, 65)
        bbox = (west, south, west + rng.uniform(0.01, 1.5), south + rng.uniform(0.01, 1.0))
        marked = set(gen.cells_under(bbox))
        for z in (0, 5, 8, 11, 12, 13, 16):
            for tile in WMQ.tiles(*bbox, zooms=[z]):
                assert gen.cell_of_tile(tile.z, tile.x, tile.y) in marked
        # ...and a tile well away from it does not.
        far = WMQ.tile(bbox[2] + 2.0, bbox[3] + 2.0, 12)
        assert gen.cell_of_tile(far.z, far.x, far.y) not in marked


def test_an_item_across_the_antimeridian_marks_both_sides() -> None:
    cells = set(gen.cells_under((179.5, -17.0, -179.5, -16.0)))
    west_side, east_side = WMQ.tile(179.8, -16.5, 12), WMQ.tile(-179.8, -16.5, 12)
    assert (12, west_side.x, west_side.y) in cells and (12, east_side.x, east_side.y) in cells


def test_a_3d_bbox_is_read_in_2d_and_a_huge_change_marks_the_catalog() -> None:
    change = gen.ItemChange.of({"id": "a", "collection": "c",
                                "bbox": [1.0, 43.0, 0.0, 2.0, 44.0, 100.0]})
    assert change.bbox == (1.0, 43.0, 2.0, 44.0)
    assert gen.ItemChange.of({"id": "b", "collection": "c", "geometry": None}).bbox is None
    assert gen.changed_keys("ns", [gen.ItemChange("c", "europe", (-25, 34, 45, 72))]) is None


def test_tile_routes_and_the_tokens_they_depend_on() -> None:
    item = token_keys("ns", "/collections/landcover/items/S2A_X/tiles/WebMercatorQuad/14/8250/"
                            "5967.png")
    assert item == [gen.catalog_key("ns"), gen.item_key("ns", "landcover", "S2A_X")]
    deep = token_keys("ns", "/collections/landcover/tiles/WebMercatorQuad/14/8250/5967@2x.png")
    assert deep == [gen.catalog_key("ns"), gen.cell_key("ns", 12, 8250 >> 2, 5967 >> 2)]
    assert token_keys("ns", "/searches/abc/tiles/WebMercatorQuad/9/258/186") == [
        gen.catalog_key("ns"), gen.cell_key("ns", 9, 258, 186)]
    assert token_keys("ns", "/collections/landcover/tiles/WGS1984Quad/9/258/186") is None
    assert token_keys("ns", "/cog/tiles/WebMercatorQuad/9/258/186") is None


def test_the_store_keeps_to_its_size_oldest_out_first(redis_url: str) -> None:
    async def run() -> tuple[list[bytes | None], int]:
        store = TileStore(redis_url, ttl_s=600, max_bytes=16 * 1000)
        try:
            for n in range(40):  # 40 tiles of ~500 bytes in a 16 kB store
                await store.keep(Lookup("ns", f"{gen.PREFIX}:ns:tile:{n}", ["t"], None),
                                 [(b"content-type", b"image/png")], bytes([n]) * 500)
            values = await store.redis.mget([f"{gen.PREFIX}:ns:tile:{n}" for n in range(40)])
            used = int(await store.redis.get(f"{gen.PREFIX}:ns:store:bytes"))
            return values, used
        finally:
            await store.close()

    values, used = asyncio.run(run())
    kept = [n for n, v in enumerate(values) if v is not None]
    assert used <= 16 * 1000
    assert kept == list(range(40 - len(kept), 40)) and 25 <= len(kept) < 40  # the newest
    assert values[39].endswith(bytes([39]) * 500)
    client = redis.Redis.from_url(redis_url)
    assert client.zcard(f"{gen.PREFIX}:ns:store:index") == len(kept)
    assert used == sum(len(v) for v in values if v is not None)


def test_one_key_for_the_forms_of_one_tile() -> None:
    path = "/collections/landcover/tiles/WebMercatorQuad/12/2060/1490.png"
    printed = canonical_query(path, b"assets=landcover&colormap_name=clc&resampling=nearest")
    web_map = canonical_query(path, b"tilesize=256&assets=landcover&colormap_name=clc"
                                    b"&resampling=nearest")
    assert printed == web_map == sorted(printed)
    # A scaled tile asking for 256 px is not the default one; another size is another tile.
    assert canonical_query(path.replace(".png", "@2x.png"), b"tilesize=256") == [
        ("tilesize", "256")]
    assert canonical_query(path, b"tilesize=512") == [("tilesize", "512")]


def test_a_damaged_entry_is_drawn_again(redis_url: str) -> None:
    async def run() -> tuple[bool, bool]:
        store = TileStore(redis_url, ttl_s=600, max_bytes=10**6)
        path = "/collections/c/items/i/tiles/WebMercatorQuad/12/1/1.png"
        scope = {"path": path, "query_string": b"", "app": None}
        store._namespace = "ns"  # no database here: the namespace as the tiler would read it
        first = await store.lookup(scope)
        assert first is not None and first.tile is None
        await store.redis.set(first.key, b"not a stored tile")
        damaged = await store.lookup(scope)
        await store.keep(first, [(b"content-type", b"image/png")], b"png")
        kept = await store.lookup(scope)
        await store.close()
        return damaged is not None and damaged.tile is None, kept is not None and (
            kept.tile is not None and kept.tile.body == b"png")

    assert asyncio.run(run()) == (True, True)
