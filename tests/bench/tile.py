"""``make bench`` (tile): one full Sentinel-2 tile through the chain, by stage, against the I/O
floor measured in the same run.

The product is generated once (L2A, earth-search COG layout, ``samples``) and cached in
``.earthsig/bench/`` (a full tile takes minutes to draw), so reruns measure only the chain.

- chain: ``prepare_product`` then ``register_prepared`` with ``clc-spectral`` on the embedded
  ONNX Runtime backend, timed per stage (read, infer, cloud mask, statistics, write COGs with
  overviews, vectorise, quicklook, publish, register), in a fresh process whose peak resident
  set (VmHWM, imports included) is the figure against the 2 GB goal. The process runs as a
  worker does: ``GDAL_CACHEMAX`` at the workers' cap (``IngestSettings.gdal_cachemax_mb``).
- I/O floor, in another fresh process: plain rasterio reads the same input band files (B02,
  B03, B04, B08 and SCL) window by window on their own grids, then writes the same output files
  the chain published - the class, confidence and cloud-mask rasters as COGs with overviews
  through GDAL's COG driver, the polygons as GeoParquet - from the chain's own arrays (loaded
  before the clock starts), so both compress the very same pixels. No model, no statistics.

Goals (issue 10): chain <= 2x the floor, <= 60 s on the 2-core machine, peak RSS <= 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio

from catalog_schemas.assets import LANDCOVER_FILES, POLYGONS_ASSET
from inference.windows import windows

CACHE = Path(".earthsig/bench")
TILE, DAY = "T31TCJ", date(2024, 7, 1)
INPUT_BANDS = ("B02", "B03", "B04", "B08", "SCL")
WINDOW = 512
GOAL_RATIO, GOAL_SECONDS, GOAL_RSS_MB = 2.0, 60.0, 2048.0


def cached_product(size: int, cloud_cover: float) -> str:
    """The generated L2A product's item JSON, drawn on the first call only."""
    folder = CACHE / f"l2a-{TILE}-{size}-c{cloud_cover:g}"
    marker = folder / "href.txt"
    if marker.exists():
        return marker.read_text()
    from samples import make_sample_product

    partial = folder.with_name(folder.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    t0 = time.perf_counter()
    href = make_sample_product(TILE, DAY, size, partial, cloud_cover=cloud_cover)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)  # complete or absent: an interrupted draw is never reused
    final = folder / href.relative_to(partial)
    marker.write_text(str(final))
    print(f"(generated {size} px in {time.perf_counter() - t0:.0f} s, cached in {folder})",
          flush=True)
    return str(final)


def _memory_mb() -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text()
                  .splitlines())
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def run_chain(href: str, out: Path, dsn: str) -> dict:
    """The chain in this process; stage timings, peak RSS and the published files."""
    from inference.settings import InferenceSettings
    from ingest.pipeline import prepare_product, register_prepared
    from ingest.settings import IngestSettings

    ingest = IngestSettings(home=out)
    inference = InferenceSettings(model_repository=CACHE / "models")
    imports_mb = _memory_mb()["VmRSS"]
    t0 = time.perf_counter()
    prepared = prepare_product(href, "clc-spectral:1", ingest=ingest, inference=inference)
    result = register_prepared(prepared, ingest=ingest, dsn=dsn)
    total = time.perf_counter() - t0
    assets = {key: value["href"] for key, value in prepared.item["assets"].items()}
    return {"timings": result.timings_s, "total": total, "assets": assets,
            "imports_mb": imports_mb, "peak_mb": _memory_mb()["VmHWM"]}


def run_floor(href: str, assets: dict[str, str], out: Path) -> dict:
    """Plain rasterio: read the chain's input bands, write the chain's output files."""
    from ingest.readers import band_asset, load_product
    from ingest.readers.bands import absolute_href, gdal_path

    item = load_product(href)
    paths = [gdal_path(absolute_href(band_asset(item, b).href, item.get_self_href()))
             for b in INPUT_BANDS]
    # The chain's own outputs, loaded before the clock starts: the floor writes the same pixels.
    arrays = {}
    for key in ("landcover", "confidence", "cloudmask"):
        with rasterio.open(assets[key]) as src:
            arrays[key] = (src.read(1), src.profile, src.colormap(1) if key != "confidence"
                           else None)
    polygons = gpd.read_parquet(assets["polygons"])
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    for path in paths:
        with rasterio.open(path) as src:
            for w in windows(src.height, src.width, WINDOW * 10 // int(src.res[0])):
                src.read(1, window=w)
    timings["read"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    for key, (data, profile, colormap) in arrays.items():
        _write_plain_cog(out / f"{key}.tif", data, profile, colormap,
                         "MODE" if key != "confidence" else "AVERAGE")
    timings["write-cogs"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    polygons.to_parquet(out / LANDCOVER_FILES[POLYGONS_ASSET], index=False, compression="zstd",
                        write_covering_bbox=True)
    timings["write-polygons"] = time.perf_counter() - t0
    return {"timings": timings, "total": sum(timings.values())}


def _write_plain_cog(path: Path, data: np.ndarray, profile: dict, colormap: dict | None,
                     resampling: str) -> None:
    """GDAL's COG driver, the chain's creation options (DEFLATE, predictor 2, 512 px blocks)."""
    options = {"compress": "DEFLATE", "predictor": 2, "blocksize": 512,
               "overview_resampling": resampling, "num_threads": "ALL_CPUS"}
    with rasterio.open(path, "w", driver="COG", height=data.shape[0], width=data.shape[1],
                       count=1, dtype=data.dtype, crs=profile["crs"],
                       transform=profile["transform"], nodata=profile["nodata"],
                       **options) as dst:
        dst.write(data, 1)
        if colormap:
            dst.write_colormap(1, colormap)


def child(mode: str, args: list[str]) -> None:
    """Run in a fresh process and print one JSON line (the kernel's peak is per process)."""
    result = (run_chain(args[0], Path(args[1]), args[2]) if mode == "chain"
              else run_floor(args[0], json.loads(args[1]), Path(args[2])))
    print(json.dumps(result))


def _spawn(mode: str, *args: str) -> dict:
    from ingest.settings import IngestSettings

    env = dict(os.environ)
    env.setdefault("GDAL_CACHEMAX", str(IngestSettings().gdal_cachemax_mb))  # as a worker
    out = subprocess.run([sys.executable, "-m", "tests.bench.tile", "--child", mode, *args],
                         check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10980, help="product size in 10 m pixels")
    parser.add_argument("--cloud-cover", type=float, default=20.0,
                        help="cloud share of the generated product, percent")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--keep", action="store_true",
                        help="keep the run's files (.earthsig/bench/run-SIZE) for profiling")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1:])
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    href = cached_product(args.size, args.cloud_cover)
    if args.generate_only:
        return
    from inference.repository import ModelRepository
    from tests.bench.chain import bench_database

    ModelRepository(CACHE / "models").build_references(["clc-spectral"],
                                                       only_missing=True)  # not timed
    dsn = bench_database()
    out = CACHE / f"run-{args.size}"
    shutil.rmtree(out, ignore_errors=True)
    chain = _spawn("chain", href, str(out / "chain"), dsn)
    floor = _spawn("floor", href, json.dumps(chain["assets"]), str(out / "floor"))
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    report(args.size, chain, floor)


def report(size: int, chain: dict, floor: dict) -> None:
    mpx = size * size / 1e6
    base = floor["total"]
    print(f"\n## Full tile, {size} x {size} px ({mpx:.0f} Mpx), clc-spectral:1, embedded ONNX "
          f"Runtime, {os.cpu_count()} cores\n")
    print("| stage | seconds | Mpx/s | x I/O floor total |")
    print("|---|---:|---:|---:|")
    for stage, seconds in floor["timings"].items():
        print(f"| floor: {stage} | {seconds:.2f} | {mpx / seconds:.1f} | {seconds / base:.2f} |")
    print(f"| **I/O floor total** | {base:.2f} | {mpx / base:.1f} | 1.00 |")
    for stage, seconds in chain["timings"].items():
        print(f"| chain: {stage} | {seconds:.2f} | {mpx / max(seconds, 1e-9):.1f} | "
              f"{seconds / base:.2f} |")
    total = chain["total"]
    print(f"| **chain total** | {total:.2f} | {mpx / total:.1f} | {total / base:.2f} |")
    peak = chain["peak_mb"]
    print(f"\nPeak RSS of the chain process: {peak:.0f} MB (imports {chain['imports_mb']:.0f} "
          f"MB); GDAL_CACHEMAX {os.environ.get('GDAL_CACHEMAX', 'the workers’ cap')}.")
    goals = [("x I/O floor", total / base, GOAL_RATIO), ("seconds", total, GOAL_SECONDS),
             ("peak RSS MB", peak, GOAL_RSS_MB)]
    print("\n| goal | measured | target | met |\n|---|---:|---:|---|")
    for name, value, target in goals:
        print(f"| {name} | {value:.2f} | <= {target:g} | {'yes' if value <= target else 'no'} |")


if __name__ == "__main__":
    main()
