"""``make bench`` (tile): one full Sentinel-2 tile through the chain, by stage, against the I/O
floor measured in the same run.

The product is generated once (L2A, earth-search COG layout, ``samples``) and cached in
``.earthsig/bench/`` (a full tile takes minutes to draw), so reruns measure only the chain.

- chain: ``prepare_product`` then ``register_prepared`` with ``--model`` (default
  ``clc-spectral:1``) on the embedded ONNX Runtime backend, timed per stage (read, infer,
  cloud mask, statistics, write COGs with overviews, vectorise, quicklook, publish,
  register), in a fresh process whose peak resident set (VmHWM, imports included) is the
  figure against the 2 GB goal. The process runs as a
  worker does: ``GDAL_CACHEMAX`` at the workers' cap (``IngestSettings.gdal_cachemax_mb``).
- model only, in the chain's process after the chain (its peak taken before): the product's
  own windows read into memory and run through the same backend, batch by batch; seconds per
  window x the windows the chain ran (``--model-sample`` batches timed: all of them by
  default). The chain's windows skipped (no valid pixel, or wholly under cloud) are counted.
- I/O floor, in another fresh process: plain rasterio reads the same input band files (B02,
  B03, B04, B08 and SCL) window by window on their own grids, then writes the same output files
  the chain published - the class, confidence and cloud-mask rasters as COGs with overviews
  through GDAL's COG driver, the polygons as GeoParquet - from the chain's own arrays (loaded
  before the clock starts), so both compress the very same pixels. No model, no statistics.

Goals (issue 10): chain <= 2x the floor, <= 60 s on the 2-core machine, peak RSS <= 2 GB.
With the real model (issue 20): <= 5 min a tile, chain <= 1.3x the model only, RSS <= 2 GB.
"""

from __future__ import annotations

import argparse
import json
import logging
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
from tests.bench.machine import cpu_description

CACHE = Path(".earthsig/bench")
TILE, DAY = "T31TCJ", date(2024, 7, 1)
INPUT_BANDS = ("B02", "B03", "B04", "B08", "SCL")
WINDOW = 512
GOAL_RATIO, GOAL_SECONDS, GOAL_RSS_MB = 2.0, 60.0, 2048.0
GOAL_MODEL_RATIO, GOAL_REAL_SECONDS = 1.3, 300.0  # issue 20, with the real model


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


class _WindowCounts(logging.Handler):
    """Catches the window counts ``inference.windows.segment`` logs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: dict = {}

    def emit(self, record: logging.LogRecord) -> None:
        counts = getattr(record, "window_counts", None)
        if counts is not None:
            self.counts = {**vars(counts), "skipped_share": counts.skipped_share}


def run_chain(href: str, out: Path, dsn: str, model_ref: str, sample: int) -> dict:
    """The chain in this process; stage timings, peak RSS and the published files; then the
    model alone on the same windows from memory."""
    from inference.settings import InferenceSettings
    from ingest.pipeline import prepare_product, register_prepared
    from ingest.settings import IngestSettings

    ingest = IngestSettings(home=out)
    inference = InferenceSettings(model_repository=CACHE / "models")
    counts = _WindowCounts()
    windows_log = logging.getLogger("inference.windows")
    windows_log.addHandler(counts)
    windows_log.setLevel(logging.INFO)
    imports_mb = _memory_mb()["VmRSS"]
    t0 = time.perf_counter()
    prepared = prepare_product(href, model_ref, ingest=ingest, inference=inference)
    result = register_prepared(prepared, ingest=ingest, dsn=dsn)
    total = time.perf_counter() - t0
    peak_mb = _memory_mb()["VmHWM"]
    assets = {key: value["href"] for key, value in prepared.item["assets"].items()}
    model_only = model_only_seconds(href, model_ref, inference, counts.counts, sample)
    name = model_ref.split(":")[0]
    return {"timings": result.timings_s, "total": total, "assets": assets,
            "imports_mb": imports_mb, "peak_mb": peak_mb, "windows": counts.counts,
            "model_only": model_only, "ort_threads": inference.threads_for(name),
            "runtime": inference.runtime_for(name),
            "window": [inference.window_size, inference.window_overlap,
                       inference.batch_size_for(model_ref.split(":")[0])]}


def model_only_seconds(href: str, model_ref: str, inference: object, counts: dict,
                       sample: int) -> dict:
    """The backend alone on the product's windows held in memory: full batches of the chain's
    batch size, from the middle window row (no nodata); seconds per window x windows run."""
    from rasterio.windows import Window

    from inference.backends import open_backend
    from inference.repository import ModelRepository
    from inference.settings import InferenceSettings
    from inference.stitch import axis_layout
    from ingest.readers import open_product

    assert isinstance(inference, InferenceSettings)
    model = ModelRepository(inference.model_repository).resolve(model_ref)
    backend = open_backend(model, inference)
    size, batch_size = inference.window_size, inference.batch_size_for(model.spec.name)
    with open_product(href, model.spec.input_bands) as reader:
        layout = axis_layout(reader.grid.height, size, inference.window_overlap)
        cols = axis_layout(reader.grid.width, size, inference.window_overlap)
        row = layout[len(layout) // 2]
        reads = [reader.read(Window(c.pos, row.pos, c.length, row.length))[0]
                 for c in cols[:batch_size]]
    batch = np.stack(reads)
    if batch.shape[-2:] != (size, size):  # a product smaller than a window: padded
        batch = np.pad(batch, ((0, 0), (0, 0), (0, size - batch.shape[2]),
                               (0, size - batch.shape[3])), mode="edge")
    prepared = model.spec.prepare(batch)
    run = max(int(counts.get("run", 0)), 1)
    n = max(1, min(sample or counts.get("batches", 1), counts.get("batches", 1)))
    backend.predict(prepared)  # warm-up (ORT allocates its arena on the first run)
    t0 = time.perf_counter()
    for _ in range(n):
        backend.predict(prepared)
    per_window = (time.perf_counter() - t0) / (n * len(batch))
    return {"seconds": per_window * run, "per_window_s": per_window, "batches_timed": n,
            "windows": run}


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
    result = (run_chain(args[0], Path(args[1]), args[2], args[3], int(args[4]))
              if mode == "chain"
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
    parser.add_argument("--model", default="clc-spectral:1",
                        help="model reference (NAME[:VERSION]) the chain runs")
    parser.add_argument("--model-sample", type=int, default=0,
                        help="batches timed for the model-only figure (0: as many as the "
                             "chain ran)")
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

    ModelRepository(CACHE / "models").build_references([args.model.split(":")[0]],
                                                       only_missing=True)  # not timed
    dsn = bench_database()
    out = CACHE / f"run-{args.size}"
    shutil.rmtree(out, ignore_errors=True)
    chain = _spawn("chain", href, str(out / "chain"), dsn, args.model, str(args.model_sample))
    floor = _spawn("floor", href, json.dumps(chain["assets"]), str(out / "floor"))
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    report(args.size, chain, floor, args.model)


def report(size: int, chain: dict, floor: dict, model: str) -> None:
    mpx = size * size / 1e6
    base = floor["total"]
    window, threads = chain["window"], chain["ort_threads"]
    print(f"\n## Full tile, {size} x {size} px ({mpx:.0f} Mpx), {model}, in process with "
          f"{chain['runtime']} ({threads} thread(s)), window {window[0]} px, overlap "
          f"{window[1]}, batch {window[2]}; {cpu_description()}\n")
    print("| stage | seconds | Mpx/s | x I/O floor total |")
    print("|---|---:|---:|---:|")
    for stage, seconds in floor["timings"].items():
        print(f"| floor: {stage} | {seconds:.2f} | {mpx / seconds:.1f} | {seconds / base:.2f} |")
    print(f"| **I/O floor total** | {base:.2f} | {mpx / base:.1f} | 1.00 |")
    for stage, seconds in chain["timings"].items():
        print(f"| chain: {stage} | {seconds:.2f} | {mpx / max(seconds, 1e-9):.2f} | "
              f"{seconds / base:.2f} |")
    total = chain["total"]
    print(f"| **chain total** | {total:.2f} | {mpx / total:.2f} | {total / base:.2f} |")
    model_only = chain["model_only"]["seconds"]
    print(f"| model only (same windows, from memory) | {model_only:.2f} | "
          f"{mpx / model_only:.2f} | {model_only / base:.2f} |")
    w = chain["windows"]
    if w:
        print(f"\nWindows: {w['total']} in the layout, {w['run']} run in {w['batches']} "
              f"batches, {w['skipped_invalid']} skipped with no valid pixel, "
              f"{w['skipped_hidden']} wholly under cloud ({100 * w['skipped_share']:.1f} % "
              f"skipped); {w['model_s']:.1f} s in the model within the chain. Model only: "
              f"{chain['model_only']['per_window_s']:.3f} s a window "
              f"({chain['model_only']['batches_timed']} batches timed) x "
              f"{chain['model_only']['windows']} windows.")
    print(f"\nChain / model only: {total / model_only:.2f}; read+infer / model only: "
          f"{chain['timings'].get('read+infer', 0) / model_only:.2f}.")
    peak = chain["peak_mb"]
    print(f"\nPeak RSS of the chain process: {peak:.0f} MB (imports {chain['imports_mb']:.0f} "
          f"MB); GDAL_CACHEMAX {os.environ.get('GDAL_CACHEMAX', 'the workers’ cap')}.")
    if model.startswith("clc-spectral"):
        goals = [("x I/O floor", total / base, GOAL_RATIO), ("seconds", total, GOAL_SECONDS),
                 ("peak RSS MB", peak, GOAL_RSS_MB)]
    else:  # the real model (issue 20): the model is the cost, the rest must add little
        goals = [("x model only", total / model_only, GOAL_MODEL_RATIO),
                 ("seconds", total, GOAL_REAL_SECONDS), ("peak RSS MB", peak, GOAL_RSS_MB)]
    print("\n| goal | measured | target | met |\n|---|---:|---:|---|")
    for name, value, target in goals:
        print(f"| {name} | {value:.2f} | <= {target:g} | {'yes' if value <= target else 'no'} |")


if __name__ == "__main__":
    main()
