"""Zooms 0-7 from the low-zoom pyramid (issue 21, point 3): composed by mode from the tiles
below, kept current as products land, served in legend colours."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest

from catalog_schemas import clc
from catalog_schemas.collections import landcover_collection
from catalog_schemas.pyramid import (
    BASE_ZOOM,
    mode_downsample,
    pyramid_root,
    read_tile,
    tile_path,
    write_tile,
)
from ingest.catalog.pyramid_update import rebuild_pyramid, update_pyramid
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import FOREST, WATER, WATER_SPOT, item_dict, load, write_cog
from tests.tiles import decode_png, tile_of, tile_url

PASTURE = clc.grid_code_of(231)
MOSAIC = "collections/landcover/tiles/WebMercatorQuad/{z}/{x}/{y}.png"


def _reference_mode(codes: np.ndarray) -> np.ndarray:
    """Half size by counting each 2 x 2 block (a different route to the same rule)."""
    h, w = codes.shape
    out = np.zeros((h // 2, w // 2), np.uint8)
    for r in range(h // 2):
        for c in range(w // 2):
            block = [int(v) for v in codes[2 * r:2 * r + 2, 2 * c:2 * c + 2].ravel() if v]
            if block:
                top = Counter(block).most_common()
                best = top[0][1]
                out[r, c] = next(v for v in block if block.count(v) == best)
    return out


def test_mode_downsampling_keeps_classes_and_leaves_nodata_only_where_all_is() -> None:
    rng = np.random.default_rng(2)
    codes = rng.choice(np.array([0, 12, 23, 41], np.uint8), size=(64, 64), p=[.3, .2, .3, .2])
    got = mode_downsample(codes)
    np.testing.assert_array_equal(got, _reference_mode(codes))
    blocks = codes.reshape(32, 2, 32, 2)
    assert ((got == 0) == (blocks.max(axis=(1, 3)) == 0)).all()
    assert set(np.unique(got)) <= {0, 12, 23, 41}  # never a code that was not there


def test_a_stored_tile_is_its_codes_and_its_picture(tmp_path: Path) -> None:
    """One paletted PNG: read back as the same codes, and decoded by any PNG reader as the
    legend's colours (nodata transparent), which is what the tiler sends as it is."""
    rng = np.random.default_rng(5)
    codes = rng.choice(np.array([0, WATER, FOREST, PASTURE], np.uint8), size=(256, 256))
    write_tile(tmp_path, 4, 3, 5, codes)
    np.testing.assert_array_equal(read_tile(tmp_path, 4, 3, 5), codes)
    rgba = np.moveaxis(decode_png(tile_path(tmp_path, 4, 3, 5).read_bytes()), 0, -1)
    legend = clc.colormap()
    for code in (WATER, FOREST, PASTURE):
        assert tuple(rgba[codes == code][0]) == legend[code]
    assert (rgba[codes == 0][:, 3] == 0).all()


def test_an_empty_tile_is_not_kept(tmp_path: Path) -> None:
    write_tile(tmp_path, 3, 1, 2, np.full((256, 256), 23, np.uint8))
    assert read_tile(tmp_path, 3, 1, 2) is not None
    write_tile(tmp_path, 3, 1, 2, np.zeros((256, 256), np.uint8))
    assert read_tile(tmp_path, 3, 1, 2) is None


@dataclass
class Served:
    tiler: str
    store: Path
    dsn: str
    folder: Path


@pytest.fixture
def served(pg_env: dict[str, str], pgstac_dsn: str, tmp_path: Path) -> Iterator[Served]:
    store = tmp_path / "store"
    store.mkdir()
    env = {**pg_env, "EARTHSIG_TILER_ASSET_ROOTS": str(tmp_path),
           "EARTHSIG_ASSET_ROOT": str(store)}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        yield Served(url, store, pgstac_dsn, tmp_path)


def _publish(served: Served, name: str, left: int, right: int, day: int) -> dict:
    cog = write_cog(served.folder / f"{name}.tif", left=left, right=right)
    item = item_dict(cog, name, datetime(2024, 6, day, 10, 46, tzinfo=UTC))
    load(served.dsn, [landcover_collection().to_dict()], [item])
    assert update_pyramid(item, served.tiler, served.store) >= BASE_ZOOM + 1
    return item


def _tile_codes(served: Served, z: int) -> tuple[np.ndarray, httpx.Response]:
    answer = httpx.get(tile_url(f"{served.tiler}/{MOSAIC}", tile_of(WATER_SPOT, z)))
    assert answer.status_code == 200, answer.text
    rgba = decode_png(answer.content)  # [4, h, w]
    return np.unique(rgba.reshape(4, -1).T, axis=0), answer


def test_low_zooms_are_the_mode_of_the_tiles_below_in_legend_colours(served: Served) -> None:
    _publish(served, "first", WATER, FOREST, 1)
    root = pyramid_root(served.store, "landcover")
    for z in range(BASE_ZOOM - 1, -1, -1):
        tile = tile_of(WATER_SPOT, z)
        quad = np.zeros((512, 512), np.uint8)
        for dy in (0, 1):
            for dx in (0, 1):
                child = read_tile(root, z + 1, 2 * tile.x + dx, 2 * tile.y + dy)
                if child is not None:
                    quad[256 * dy:256 * dy + 256, 256 * dx:256 * dx + 256] = child
        np.testing.assert_array_equal(read_tile(root, z, tile.x, tile.y),
                                      _reference_mode(quad))
    base = read_tile(root, BASE_ZOOM, *tile_of(WATER_SPOT, BASE_ZOOM)[:2])
    assert set(np.unique(base)) == {0, WATER, FOREST}
    colours, answer = _tile_codes(served, 5)
    assert answer.headers["x-pyramid"] == "tile"
    legend = {(*clc.by_grid_code(c).rgb, 255) for c in (WATER, FOREST)} | {(0, 0, 0, 0)}
    assert {tuple(c) for c in colours} <= legend
    assert (*clc.by_grid_code(WATER).rgb, 255) in {tuple(c) for c in colours}


def test_a_new_product_changes_the_tile_above_it(served: Served) -> None:
    _publish(served, "first", WATER, FOREST, 1)
    before, _ = _tile_codes(served, 5)
    _publish(served, "second", PASTURE, FOREST, 2)  # newer, on the same footprint
    after, _ = _tile_codes(served, 5)
    pasture = (*clc.by_grid_code(PASTURE).rgb, 255)
    assert pasture not in {tuple(c) for c in before}
    assert pasture in {tuple(c) for c in after}
    assert (*clc.by_grid_code(WATER).rgb, 255) not in {tuple(c) for c in after}


def test_other_maps_below_the_base_zoom_are_still_refused_and_empty_places_transparent(
        served: Served) -> None:
    _publish(served, "first", WATER, FOREST, 1)
    dated = httpx.get(tile_url(f"{served.tiler}/{MOSAIC}?datetime=../2024-06-30T00:00:00Z",
                               tile_of(WATER_SPOT, 5)))
    assert dated.status_code == 400  # a dated map is not in the pyramid
    far = httpx.get(f"{served.tiler}/collections/landcover/tiles/WebMercatorQuad/5/0/0.png")
    assert far.status_code == 200 and far.headers["x-pyramid"] == "empty"
    assert decode_png(far.content)[3].max() == 0  # fully transparent


def test_tilejson_opens_at_zoom_zero_once_there_is_a_pyramid(served: Served) -> None:
    url = f"{served.tiler}/collections/landcover/WebMercatorQuad/tilejson.json"
    cog = write_cog(served.folder / "early.tif", left=WATER, right=FOREST)
    load(served.dsn, [landcover_collection().to_dict()],
         [item_dict(cog, "early", datetime(2024, 6, 1, tzinfo=UTC))])
    assert httpx.get(url).json()["minzoom"] == 8  # no pyramid yet: low zooms refused
    refused = httpx.get(tile_url(f"{served.tiler}/{MOSAIC}", tile_of(WATER_SPOT, 5)))
    assert refused.status_code == 400  # never a blank tile over a product
    # The operator's command builds it from the catalog as it stands.
    assert rebuild_pyramid(served.dsn, "landcover", served.tiler, served.store) > BASE_ZOOM
    assert httpx.get(url).json()["minzoom"] == 0
    assert httpx.get(url, params={"datetime": "../2024-06-30T00:00:00Z"}).json()["minzoom"] == 8
    colours, _ = _tile_codes(served, 5)
    assert (*clc.by_grid_code(WATER).rgb, 255) in {tuple(c) for c in colours}


def test_wmts_announces_zoom_0_for_the_pyramids_layer_only(served: Served) -> None:
    """One WMTS document lists every render of the collection and only the default one is in
    the pyramid: that layer announces zooms 0-16, the others 8-16 (none announces tiles it
    would refuse), and the pyramid layer's tiles at zoom 3 answer in legend colours."""
    import xml.etree.ElementTree as ET

    wmts_ns, ows_ns = "{http://www.opengis.net/wmts/1.0}", "{http://www.opengis.net/ows/1.1}"
    _publish(served, "first", WATER, FOREST, 2)
    root = ET.fromstring(httpx.get(f"{served.tiler}/collections/landcover/WMTSCapabilities.xml",
                                   timeout=30).content)
    zooms_of, template_of = {}, {}
    for layer in root.iter(f"{wmts_ns}Layer"):
        name = layer.findtext(f"{ows_ns}Identifier") or ""
        zooms_of[name] = sorted(int(m.text or "") for limits in layer.iter(
            f"{wmts_ns}TileMatrixLimits") for m in limits.findall(f"{wmts_ns}TileMatrix"))
        template_of[name] = layer.find(f"{wmts_ns}ResourceURL").get("template")  # type: ignore[union-attr]
    low = [name for name, zooms in zooms_of.items() if zooms[0] == 0]
    assert len(low) == 1 and low[0].endswith("_landcover"), zooms_of
    assert zooms_of[low[0]] == list(range(0, 17))
    assert all(zooms == list(range(8, 17)) for name, zooms in zooms_of.items() if name != low[0])
    tile = tile_of(WATER_SPOT, 3)
    url = (template_of[low[0]].replace("{TileMatrix}", "3").replace("{TileCol}", str(tile.x))
           .replace("{TileRow}", str(tile.y)))
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 200 and answer.headers["x-pyramid"] == "tile", url
    colours = {tuple(c) for c in np.unique(decode_png(answer.content).reshape(4, -1).T, axis=0)}
    assert (*clc.by_grid_code(WATER).rgb, 255) in colours
