"""The low-zoom pyramid at Europe's scale (issue 21, point 3): zooms 0-7 of the collection map
with 1,000 full-tile products registered, 16 clients.

Data (made once, cached under ``.earthsig/bench/pyramid``): ``--products`` landcover items of
the pipeline's real shape (``tests/bench/catalog_items.py``), one per MGRS tile touching
Europe's land, each a full Sentinel-2 tile (10980 x 10980 px at 10 m in its own UTM zone).
Generating and storing 1,000 such maps (tens of GB) is not needed to measure the pyramid, so
the products are made cheaply: a few full-size land-cover COGs (the demo's landscape
generator, ``samples/landcover.py``) and cloud masks (``samples/clouds.py``) are written once,
and each product's ``landcover`` and ``cloudmask`` assets are GDAL VRTs placing one of them on
the product's own tile grid (its CRS and origin). The tiler reads a VRT as it reads a COG: its
overviews are the COG's (GDAL's implicit VRT overviews).

Measured, in one run:

1. **Build**: ``rebuild_pyramid`` (what ``earthsig tiles pyramid`` runs) from the catalog: base
   tiles drawn by the tiler, tiles above composed; time and tile counts.
2. **Serving**: z0-7 tiles over Europe from the pyramid, 16 connections (``wrk``: C clients,
   so the load does not take the server's cores), against the baseline of the same run: z8
   tiles of the same map drawn from the items (what every low zoom would cost without the
   pyramid: more, as a z5 tile spans ~60 products). p50/p95/p99 and throughput.
3. **Freshness**: a product published over a place (registered, its tiles seeded, the pyramid
   updated: the pipeline's publish steps after the COGs are written) until the z5 tile over it
   shows its classes; seconds.
4. **Storage**: the pyramid's bytes against the assets' (each product counted with the size
   of the COGs its VRTs stand for: landcover and cloud mask only, so the assets are counted
   low and the ratio high).

Run: ``python -m tests.bench.pyramid`` (first run ~10-15 min to make the data and the
pyramid; later runs reuse them: ``--rebuild`` builds the pyramid again).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
import rasterio
from pyogrio.raw import read
from rasterio.errors import NotGeoreferencedWarning

from catalog_schemas import clc, cloudmask
from catalog_schemas.assets import CLOUDMASK_ASSET, LANDCOVER_ASSET
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID, landcover_collection
from catalog_schemas.pyramid import BASE_ZOOM, pyramid_root
from infra.postgres import libpq_env, migrate_pgstac
from ingest.catalog.pyramid_update import base_tiles, rebuild_pyramid, redraw, update_pyramid
from ingest.catalog.seed import seed_item
from ingest.settings import IngestSettings
from samples.clouds import CLOUD_MEDIUM, draw_clouds
from samples.landcover import CLASSES, draw_land_cover
from samples.s2grid import grid_file
from tests.bench.catalog_items import ItemFactory, Tiles, europe_tiles
from tests.bench.machine import cpu_description
from tests.bench.serving import bench_dsn
from tests.bench.wrk_load import WrkRound, wrk_round
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import load
from tests.tiles import WEB_MERCATOR as WMQ
from tests.tiles import decode_png

CACHE = Path(".earthsig/bench/pyramid")
DB = "earthsig_bench_pyramid"
SIZE = 10980  # a full Sentinel-2 tile at 10 m
LANDSCAPES = 4  # distinct land-cover maps the products share
CLOUDY = (0.0, 25.0)  # cloud masks: clear and a quarter clouded
CONNECTIONS = 16
DRAIN_S = 15  # longer than the slowest z8 tile (p99 ~4 s)
MOSAIC = "/collections/landcover/tiles/WebMercatorQuad/{z}/{x}/{y}.png"
WATER = clc.grid_code_of(512)


# -- data -----------------------------------------------------------------------------------

def _write_cog(path: Path, data: np.ndarray, nodata: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.tif")
    profile = {"driver": "COG", "dtype": "uint8", "count": 1, "width": data.shape[1],
               "height": data.shape[0], "nodata": nodata, "compress": "deflate",
               "blocksize": 512, "overview_resampling": "mode", "BIGTIFF": "IF_SAFER"}
    with warnings.catch_warnings():  # shared pixels: each product's VRT georeferences them
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(data, 1)
    tmp.rename(path)


def shared_maps() -> tuple[list[Path], list[Path]]:
    """The full-size land-cover and cloud-mask COGs every product's VRTs point at."""
    folder = CACHE / "shared"
    covers = [folder / f"landcover-{k}.tif" for k in range(LANDSCAPES)]
    clouds = [folder / f"cloudmask-{int(c)}.tif" for c in CLOUDY]
    t0 = time.perf_counter()
    for k, path in enumerate(covers):
        if not path.exists():
            cover = draw_land_cover(np.random.default_rng([21, k]), SIZE // 2)
            codes = np.array([clc.grid_code_of(c) for c in CLASSES], np.uint8)
            grid = codes[cover.parcel_class][cover.labels]  # 20 m parcels -> codes
            _write_cog(path, np.repeat(np.repeat(grid, 2, axis=0), 2, axis=1), clc.NODATA)
            print(f"landscape {k + 1}/{LANDSCAPES} written ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
    for cover_pct, path in zip(CLOUDY, clouds, strict=True):
        if not path.exists():
            drawn = draw_clouds(np.random.default_rng(31), SIZE, cover_pct, 48.0,
                                datetime(2024, 7, 1).date())
            mask = np.full((SIZE, SIZE), cloudmask.CLEAR, np.uint8)
            if drawn is not None:
                mask[drawn.shadow] = cloudmask.SHADOW
                mask[drawn.alpha >= CLOUD_MEDIUM] = cloudmask.CLOUD
            _write_cog(path, mask, cloudmask.NODATA)
    return covers, clouds


def _vrt(source: Path, epsg: int, ul_x: float, ul_y: float, nodata: int) -> str:
    return f"""<VRTDataset rasterXSize="{SIZE}" rasterYSize="{SIZE}">
  <SRS>EPSG:{epsg}</SRS>
  <GeoTransform>{ul_x}, 10.0, 0.0, {ul_y}, 0.0, -10.0</GeoTransform>
  <VRTRasterBand dataType="Byte" band="1">
    <NoDataValue>{nodata}</NoDataValue>
    <SimpleSource>
      <SourceFilename relativeToVRT="0">{source.resolve()}</SourceFilename>
      <SourceBand>1</SourceBand>
      <SrcRect xOff="0" yOff="0" xSize="{SIZE}" ySize="{SIZE}"/>
      <DstRect xOff="0" yOff="0" xSize="{SIZE}" ySize="{SIZE}"/>
    </SimpleSource>
  </VRTRasterBand>
</VRTDataset>
"""


@dataclass(frozen=True)
class Grid:
    epsg: int
    ul_x: float
    ul_y: float


@cache
def grids() -> dict[str, Grid]:
    """Every Sentinel-2 tile's CRS and origin in one read of the grid file (one read per tile
    takes minutes for 1,000)."""
    _meta, _fids, _geometry, fields = read(grid_file(), columns=["id", "SRS", "UL0", "UL1"],
                                           read_geometry=False)
    return {str(i): Grid(int(str(srs).removeprefix("EPSG:")), float(x), float(y))
            for i, srs, x, y in zip(*fields, strict=True)}


def product_item(factory: ItemFactory, tiles: Tiles, index: int, tile: int, when: datetime,
                 cover: Path, cloud: Path) -> dict[str, Any]:
    """Item ``index`` over MGRS tile ``tile``, its two map assets VRTs over shared COGs."""
    item = factory._item(index, tile, 0.5, 0.0, "sentinel-2b", 8, np.ones(len(factory.codes)))
    grid = grids()[tiles.ids[tile]]
    item["properties"]["datetime"] = when.isoformat().replace("+00:00", "Z")
    item["properties"]["proj:code"] = f"EPSG:{grid.epsg}"
    item["properties"]["proj:transform"] = [10.0, 0.0, grid.ul_x, 0.0, -10.0, grid.ul_y]
    folder = (CACHE / "home" / "assets" / "landcover" / item["id"]).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    assets = {}
    for key, source, nodata in ((LANDCOVER_ASSET, cover, clc.NODATA),
                                (CLOUDMASK_ASSET, cloud, cloudmask.NODATA)):
        path = folder / f"{key}.vrt"
        path.write_text(_vrt(source, grid.epsg, grid.ul_x, grid.ul_y, nodata))
        asset = dict(item["assets"][key])
        asset["href"] = str(path)  # typed as the COG it stands for: GDAL opens either
        asset.pop("file:checksum", None)
        asset.pop("file:size", None)
        assets[key] = asset
    item["assets"] = assets
    return item


def prepare(dsn: str, products: int) -> tuple[list[dict[str, Any]], Tiles, ItemFactory]:
    """The catalog of ``products`` items (made once; later runs find them)."""
    migrate_pgstac(dsn)
    tiles = europe_tiles()
    factory = ItemFactory(products, tiles)
    covers, clouds = shared_maps()
    if products > len(tiles.ids):
        raise SystemExit(f"--products {products}: Europe has {len(tiles.ids)} MGRS tiles")
    rng = np.random.default_rng(41)
    chosen = rng.choice(len(tiles.ids), size=products, replace=False)
    start = datetime(2024, 7, 1, 10, 30, tzinfo=UTC)
    items = [product_item(factory, tiles, i, int(t), start + timedelta(minutes=i),
                          covers[i % LANDSCAPES], clouds[int(i % 3 == 0)])
             for i, t in enumerate(chosen)]
    with psycopg.connect(dsn) as conn:
        (count,) = conn.execute("SELECT count(*) FROM pgstac.items").fetchone()  # type: ignore[misc]
    if count != products:
        with psycopg.connect(dsn) as conn:
            conn.execute("DELETE FROM pgstac.items")
        t0 = time.perf_counter()
        load(dsn, [landcover_collection().to_dict()], items)
        print(f"registered {products} products in {time.perf_counter() - t0:.1f} s", flush=True)
    return items, tiles, factory


# -- measures -------------------------------------------------------------------------------

def europe_tile_paths(zooms: range, tiles: Tiles) -> list[str]:
    """The tiles at ``zooms`` over the products' extent, as URL paths."""
    west, south = tiles.bboxes[:, 0].min(), tiles.bboxes[:, 1].min()
    east, north = tiles.bboxes[:, 2].max(), tiles.bboxes[:, 3].max()
    return [MOSAIC.format(z=t.z, x=t.x, y=t.y)
            for t in WMQ.tiles(west, south, east, north, zooms=list(zooms))]


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def assets_bytes(items: list[dict[str, Any]]) -> int:
    """What the products' assets would weigh as their own files: each VRT's source COG."""
    total = 0
    for item in items:
        for asset in item["assets"].values():
            text = Path(asset["href"]).read_text()
            source = text.split("<SourceFilename relativeToVRT=\"0\">")[1].split("<")[0]
            total += Path(source).stat().st_size
    return total


def freshness(dsn: str, tiler: str, asset_root: Path, factory: ItemFactory, tiles: Tiles,
              items: list[dict[str, Any]], water: Path, clear: Path) -> dict[str, float]:
    """Publish a newer product over the first one, all water, until z5 over it shows water."""
    over = items[0]
    tile_index = tiles.ids.index(over["properties"]["grid:code"].removeprefix("MGRS-"))
    when = datetime(2024, 8, 1, 10, 30, tzinfo=UTC) + timedelta(seconds=time.time() % 86400)
    new = product_item(factory, tiles, len(items), tile_index, when,
                       water, clear)
    z5 = WMQ.tile((over["bbox"][0] + over["bbox"][2]) / 2, (over["bbox"][1] + over["bbox"][3]) / 2,
                  5)
    url = f"{tiler}{MOSAIC.format(z=5, x=z5.x, y=z5.y)}"
    water_rgba = (*clc.by_grid_code(WATER).rgb, 255)

    def water_pixels() -> int:
        rgba = decode_png(httpx.get(url, headers={"Cache-Control": "no-cache"},
                                    timeout=30).content)
        return int((water_rgba == rgba.reshape(4, -1).T).all(axis=1).sum())

    before = water_pixels()
    ingest = IngestSettings()
    t0 = time.perf_counter()
    load(dsn, [], [new])  # the pipeline's publish steps after the COGs: register, pyramid, seed
    registered = time.perf_counter() - t0
    update_pyramid(new, tiler, asset_root)
    updated = time.perf_counter() - t0
    while water_pixels() <= before:
        if time.perf_counter() - t0 > 300:
            raise SystemExit("the new product never showed at z5")
        time.sleep(0.2)
    visible_at = time.perf_counter() - t0
    seed_item(new, tiler, ingest.seed_item_zooms, ingest.seed_mosaic_zooms, ingest.seed_budget_s)
    seeded = time.perf_counter() - t0
    while water_pixels() <= before:
        if time.perf_counter() - t0 > 300:
            raise SystemExit("the new product never showed at z5")
        time.sleep(0.2)
    with psycopg.connect(dsn) as conn:  # the catalog and its pyramid as they were
        conn.execute("DELETE FROM pgstac.items WHERE id = %s", (new["id"],))
    redraw(LANDCOVER_COLLECTION_ID, base_tiles(tuple(new["bbox"])), tiler, asset_root)
    shutil.rmtree(Path(new["assets"][LANDCOVER_ASSET]["href"]).parent)
    return {"registered": registered, "seeded": seeded, "pyramid": updated, "visible": visible_at,
            "water_before": before}


def water_map() -> Path:
    path = CACHE / "shared" / "water.tif"
    if not path.exists():
        _write_cog(path, np.full((SIZE, SIZE), WATER, np.uint8), clc.NODATA)
    return path


def row(name: str, run: WrkRound, base: WrkRound) -> str:
    return (f"| {name} | {run.p50_ms:.1f} | {run.p95_ms:.1f} | {run.p99_ms:.1f} | "
            f"{run.rate:.0f} | {run.errors} | {run.p95_ms / base.p95_ms:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20, help="per wrk round")
    parser.add_argument("--rebuild", action="store_true", help="build the pyramid again")
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.WARNING)
    logging.getLogger("ingest.catalog.pyramid_update").setLevel(logging.INFO)
    print(f"# pyramid bench: {args.products} products, {cpu_description()}", flush=True)
    dsn = bench_dsn(DB)
    items, tiles, factory = prepare(dsn, args.products)
    home = (CACHE / "home").resolve()
    asset_root = home / "assets"
    env = {**libpq_env(dsn), "EARTHSIG_TILER_ASSET_ROOTS": str(home),
           "EARTHSIG_ASSET_ROOT": str(asset_root), "EARTHSIG_TILER_LOG_LEVEL": "warning",
           "EARTHSIG_TILE_STORE_URL": ""}
    env.setdefault("PGPASSWORD", "unused")
    root = pyramid_root(asset_root, LANDCOVER_COLLECTION_ID)
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as tiler:
        if args.rebuild or not root.is_dir():
            t0 = time.perf_counter()
            written = rebuild_pyramid(dsn, LANDCOVER_COLLECTION_ID, tiler, asset_root)
            built = time.perf_counter() - t0
            base_count = len(list((root / str(BASE_ZOOM)).rglob("*.png")))
            print(f"pyramid built: {written} tiles composed ({base_count} base tiles at z"
                  f"{BASE_ZOOM} with data) in {built:.0f} s", flush=True)
        low = europe_tile_paths(range(0, BASE_ZOOM), tiles)
        z8 = europe_tile_paths(range(BASE_ZOOM, BASE_ZOOM + 1), tiles)
        rng = np.random.default_rng(3)
        rng.shuffle(low)
        rng.shuffle(z8)
        wrk_round(tiler, low, 3, CONNECTIONS)  # warm-up
        wrk_round(tiler, z8[:200], 3, CONNECTIONS)
        time.sleep(DRAIN_S)
        lows, highs = [], []
        for _ in range(2):  # alternate, so that neither always runs on a warmer machine
            lows.append(wrk_round(tiler, low, args.seconds, CONNECTIONS))
            highs.append(wrk_round(tiler, z8, args.seconds, CONNECTIONS))
            # wrk stops asking, the tiler still draws the z8 tiles in hand (seconds each):
            # the next pyramid round would be measured against them.
            time.sleep(DRAIN_S)
        print(f"\n{len(low)} tile URLs at z0-{BASE_ZOOM - 1}, {len(z8)} at z{BASE_ZOOM}, "
              f"{CONNECTIONS} connections, 2 x {args.seconds} s each (wrk)\n")
        print("| tiles | p50 ms | p95 ms | p99 ms | tiles/s | errors | p95 / baseline |")
        print("|---|---|---|---|---|---|---|")
        for k in range(2):
            print(row(f"z{BASE_ZOOM} from the items (baseline), round {k + 1}", highs[k],
                      highs[k]))
            print(row(f"z0-{BASE_ZOOM - 1} from the pyramid, round {k + 1}", lows[k],
                      highs[k]))
        fresh = freshness(dsn, tiler, asset_root, factory, tiles, items, water_map(),
                          shared_maps()[1][0])
        print(f"\npublish -> z5 (seconds from the start of registration): registered "
              f"{fresh['registered']:.2f}, pyramid updated {fresh['pyramid']:.1f}, the z5 tile "
              f"shows it {fresh['visible']:.1f}; then its tiles at z8-12 seeded by "
              f"{fresh['seeded']:.1f}")
    pyramid = folder_bytes(root)
    assets = assets_bytes(items)
    print(f"storage: pyramid {pyramid / 1e6:.1f} MB for {args.products} products whose "
          f"assets weigh {assets / 1e9:.1f} GB: {100 * pyramid / assets:.3f} %")


if __name__ == "__main__":
    main()
