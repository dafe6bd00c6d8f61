"""``make bench`` (clouds): the L1C cloud mask against the reference s2cloudless, same model.

Reference: ``S2PixelCloudDetector`` of the s2cloudless package (1.7.3, its defaults:
threshold 0.4, average over a disk of 1, dilation 1) on the 10 m image. The package is
installed without its dependencies (``make install``); to run the detector here the bench
installs OpenCV (``opencv-python-headless``, which the detector's filters use) into
``.earthsig/bench/reference-site`` - the bench's own folder, not the project's environment -
and stands in an empty module for ``sentinelhub``, which s2cloudless imports only for its
download helpers (never called here). The detector's probability step is per pixel, so it is
called on strips of rows (a whole tile at once would hold 4.8 GB of float32 input); its mask
step runs once on the whole probability image, as it would.

Ours: ``inference.s2cloudless.cloud_mask_at_20m`` - the same LightGBM booster, run once per
2 x 2 block, the neighbourhood steps at 10 m; with all trees for every block, and with
LightGBM's prediction early stopping (the default).

Input: the generated L1C scene (``samples``, top-of-atmosphere reflectance) of the
requested size, clouds drawn over ``--cloud-cover`` percent, with the ten bands the model reads
(B01, B09, B10 drawn at 60 m, B05, B8A, B11, B12 at 20 m, repeated onto the 10 m grid; the
generator's made-up spectra, see ``samples.spectra.TOA_BANDS``). Both implementations
get the very same array.

Then the pipeline's L1C cloud mask (``ingest.clouds.cloudmask_toa``: s2cloudless at 60 m and at 20 m
on the same scene written as an L1C SAFE product, read through the product reader, snow by
NDSI, shadows cast away from the sun), timed whole (reading included) and compared with the
reference's mask and with the generator's cloud truth.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import types
from datetime import date
from pathlib import Path

import numpy as np

from catalog_schemas import cloudmask as cm
from inference import s2cloudless
from ingest.clouds.cloudmask_toa import cloudmask_from_toa
from ingest.readers import load_product
from samples import generate_scene, make_sample_product
from samples.product import truth_folder

CACHE = Path(".earthsig/bench")
REFERENCE_SITE = CACHE / "reference-site"
STRIP = 256
LANDCOVER_MAX_SIZE = 2048  # the land-cover rows run the pipeline twice
DAY = date(2024, 7, 1)


def l1c_bands(size: int, cloud_cover: float) -> np.ndarray:
    """``[size, size, 10]`` float32 TOA reflectance in s2cloudless's band order (cached)."""
    path = CACHE / f"l1c-bands-T31TCJ-{size}-c{cloud_cover:g}.npy"
    if path.exists():
        return np.load(path, mmap_mode="r")
    scene = generate_scene("T31TCJ", DAY, size, cloud_cover=cloud_cover)
    stack = np.lib.format.open_memmap(path.with_suffix(".part.npy"), mode="w+",
                                      dtype=np.float32, shape=(size, size, 10))
    for i, name in enumerate(s2cloudless.BANDS):
        band = scene.reflectance(name, toa=True)
        factor = -(-size // band.shape[0])  # 10 m pixels per band pixel: 1, 2 or 6
        stack[..., i] = np.repeat(np.repeat(band, factor, 0), factor, 1)[:size, :size]
    stack.flush()
    del stack
    path.with_suffix(".part.npy").rename(path)
    return np.load(path, mmap_mode="r")


def l1c_product(size: int, cloud_cover: float) -> Path:
    """The same scene as an L1C SAFE product (cached)."""
    folder = CACHE / f"l1c-safe-T31TCJ-{size}-c{cloud_cover:g}"
    found = list(folder.glob("*.SAFE"))
    if found and any(found[0].glob("GRANULE/*/MTD_TL.xml")):  # made with its sun angles
        return found[0]
    return make_sample_product("T31TCJ", DAY, size, folder, cloud_cover=cloud_cover,
                               level="L1C", layout="safe")


def reference_detector() -> object:
    """s2cloudless's own ``S2PixelCloudDetector``, runnable with the bench's OpenCV."""
    if not (REFERENCE_SITE / "cv2").is_dir():  # the bench's own copy, not the project's
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--disable-pip-version-check", "--target", str(REFERENCE_SITE),
                        "opencv-python-headless<5"], check=True)
    sys.path.insert(0, str(REFERENCE_SITE.resolve()))
    import cv2  # noqa: F401
    stub = types.ModuleType("sentinelhub")  # download helpers only: never called here
    for name in ("BBox", "DataCollection", "MimeType", "SentinelHubDownloadClient",
                 "SentinelHubRequest", "SHConfig"):
        setattr(stub, name, type(name, (), {"SENTINEL2_L1C": None}))
    evalscript = types.ModuleType("sentinelhub.evalscript")
    evalscript.generate_evalscript = lambda **_: ""  # type: ignore[attr-defined]
    sys.modules.setdefault("sentinelhub", stub)
    sys.modules.setdefault("sentinelhub.evalscript", evalscript)
    from s2cloudless import S2PixelCloudDetector

    return S2PixelCloudDetector(threshold=s2cloudless.THRESHOLD, all_bands=False,
                                average_over=s2cloudless.AVERAGE_OVER,
                                dilation_size=s2cloudless.DILATION_SIZE)


def run_reference(bands: np.ndarray) -> np.ndarray:
    detector = reference_detector()
    size = bands.shape[0]
    probs = np.empty((1, size, bands.shape[1]), np.float32)
    for row in range(0, size, STRIP):  # per pixel: strips give the same probabilities
        probs[0, row:row + STRIP] = detector.get_cloud_probability_maps(  # type: ignore
            np.asarray(bands[np.newaxis, row:row + STRIP]))[0]
    return detector.get_mask_from_prob(probs)[0]  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10980, help="scene size in 10 m pixels")
    parser.add_argument("--cloud-cover", type=float, default=30.0)
    parser.add_argument("--pipeline-only", action="store_true",
                        help="only the pipeline's mask (full tiles: the reference takes ~30 min)")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    if args.pipeline_only:
        pipeline_rows(args.size, args.cloud_cover, None, None)
        return
    bands = l1c_bands(args.size, args.cloud_cover)
    np.asarray(bands[:1])  # page in lazily either way: both read the same memory map

    ours: dict[str, tuple[float, np.ndarray]] = {}
    for label, margin in (("booster per 2 x 2 block, all trees", None),
                          ("booster per 2 x 2 block, early stopping (default)",
                           s2cloudless.EARLY_STOP_MARGIN)):
        t0 = time.perf_counter()
        mask = s2cloudless.cloud_mask_at_20m(np.asarray(bands), early_stop_margin=margin)
        ours[label] = (time.perf_counter() - t0, mask)
    t0 = time.perf_counter()
    reference = run_reference(bands)
    reference_s = time.perf_counter() - t0

    cloudy = float(reference.astype(bool).mean())
    mpx = args.size * args.size / 1e6
    print(f"\n## L1C cloud mask, {args.size} x {args.size} px at 10 m ({mpx:.0f} Mpx), "
          f"{os.cpu_count()} cores, reference cloud share {100 * cloudy:.1f} %\n")
    print("| implementation | seconds | Mpx/s | x reference speed | mask agreement |\n"
          "|---|---:|---:|---:|---:|")
    print(f"| s2cloudless S2PixelCloudDetector (baseline) | {reference_s:.1f} | "
          f"{mpx / reference_s:.2f} | 1.00 | - |")
    for label, (seconds, mask) in ours.items():
        agree = float((mask.astype(bool) == reference.astype(bool)).mean())
        print(f"| ours: {label} | {seconds:.1f} | {mpx / seconds:.2f} | "
              f"{reference_s / seconds:.2f} | {100 * agree:.3f} % |")
    print("\nGoal: >= 10x the reference's speed at >= 99 % pixel agreement.")
    pipeline_rows(args.size, args.cloud_cover, reference.astype(bool), reference_s)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _memory_mb() -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in
                  Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def pipeline_rows(size: int, cloud_cover: float, reference: np.ndarray | None,
                  reference_s: float | None) -> None:
    """The pipeline's L1C mask (read from the SAFE product, at 60 and 20 m) on the same scene."""
    import rasterio

    product = l1c_product(size, cloud_cover)
    with rasterio.open(truth_folder(product) / "truth_cloudmask.tif") as src:
        truth = src.read(1)
    cloudy = np.isin(truth, (cm.CLOUD, cm.THIN_CLOUD))
    item = load_product(str(product))
    mpx = size * size / 1e6
    print(f"\n## The pipeline's L1C cloud mask on the same scene as a SAFE product, "
          f"{size} x {size} px\n")
    print("| s2cloudless at | seconds (reading included) | Mpx/s | x reference speed | "
          "agreement with the reference | with the truth (cloud or thin cloud) | "
          "snow found as snow | shadow IoU with the truth | peak memory above the start, MB |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    if reference is not None and reference_s is not None:
        print(f"| reference, 10 m | {reference_s:.1f} | {mpx / reference_s:.2f} | 1.00 | - | "
              f"{100 * float((reference == cloudy).mean()):.2f} % | "
              f"{100 * float((~reference[truth == cm.SNOW]).mean()):.1f} % | - | - |")
    s2cloudless.probabilities(np.zeros((1, 10), np.float32))  # the booster parsed once, first
    for resolution in (60, 20):
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current VmRSS
        before = _memory_mb()["VmRSS"]
        t0 = time.perf_counter()
        mask = cloudmask_from_toa(item, size, size, resolution)
        seconds = time.perf_counter() - t0
        growth = _memory_mb()["VmHWM"] - before  # the mask itself included (1 byte/px)
        found = mask == cm.CLOUD
        speed = "-" if reference_s is None else f"{reference_s / seconds:.1f}"
        with_reference = ("-" if reference is None
                          else f"{100 * float((found == reference).mean()):.2f} %")
        print(f"| {resolution} m (pipeline{' default' if resolution == 60 else ''}) | "
              f"{seconds:.1f} | {mpx / seconds:.2f} | {speed} | {with_reference} | "
              f"{100 * float((found == cloudy).mean()):.2f} % | "
              f"{100 * float((mask[truth == cm.SNOW] == cm.SNOW).mean()):.1f} % | "
              f"{_iou(mask == cm.SHADOW, truth == cm.SHADOW):.3f} | {growth:.0f} |")
        del mask, found
    # Without the haze removal too where it is cheap; a full tile once, with the default.
    landcover_rows(product, (False, True) if size <= LANDCOVER_MAX_SIZE else (True,))


def landcover_rows(product: Path, removals: tuple[bool, ...]) -> None:
    """Land cover of the L1C product on clear pixels against the truth, with and without the
    haze removal (the whole pipeline up to the files, in a scratch home), and the stages'
    times and peak memory of the default."""
    import tempfile

    import rasterio

    from inference.settings import InferenceSettings
    from ingest.pipeline import prepare_product
    from ingest.settings import IngestSettings

    folder = truth_folder(product)
    with rasterio.open(folder / "truth_landcover.tif") as src:
        truth = src.read(1)
    with rasterio.open(folder / "truth_cloudmask.tif") as src:
        clear = src.read(1) == cm.CLEAR
    print("\n| L1C land cover (clc-spectral) | clear pixels equal to the truth | seconds "
          "(whole product) | peak memory, MB |\n|---|---:|---:|---:|")
    timings: dict[str, float] = {}
    for removal in removals:
        with tempfile.TemporaryDirectory() as home:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current VmRSS
            t0 = time.perf_counter()
            prepared = prepare_product(str(product), ingest=IngestSettings(
                _env_file=None, home=Path(home), l1c_haze_removal=removal),
                inference=InferenceSettings(_env_file=None))
            seconds = time.perf_counter() - t0
            peak = _memory_mb()["VmHWM"]  # the whole process: the chain's figure
            timings = prepared.timings_s
            with rasterio.open(prepared.item["assets"]["landcover"]["href"]) as src:
                landcover = src.read(1)
        seen = clear & (landcover > 0)
        label = "haze removed (default)" if removal else "top-of-atmosphere as read"
        print(f"| {label} | {100 * float((landcover[seen] == truth[seen]).mean()):.2f} % | "
              f"{seconds:.1f} | {peak:.0f} |")
    print("\nStages of the default: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))

if __name__ == "__main__":
    main()
