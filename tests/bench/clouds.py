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

Input: the generated L1C scene (``ingest.samples``, top-of-atmosphere reflectance) of the
requested size, clouds drawn over ``--cloud-cover`` percent. The generator draws six bands
(B02, B03, B04, B08 at 10 m; B11, B12 at 20 m); the four others the model reads are derived
here, and say nothing about real spectra: B01 = B02, B05 = (B04 + B08) / 2, B8A = B08 and
B09 = 0.3 B08 (all at 20 m, means of 2 x 2 blocks), B10 (cirrus) = 0.002 + 0.03 x cloud
opacity of the scene's clouds. Both implementations get the very same array.
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

from inference import s2cloudless
from ingest.samples import generate_scene

CACHE = Path(".earthsig/bench")
REFERENCE_SITE = CACHE / "reference-site"
STRIP = 256


def l1c_bands(size: int, cloud_cover: float) -> np.ndarray:
    """``[size, size, 10]`` float32 TOA reflectance in s2cloudless's band order (cached)."""
    path = CACHE / f"l1c-T31TCJ-{size}-c{cloud_cover:g}.npy"
    if path.exists():
        return np.load(path, mmap_mode="r")
    scene = generate_scene("T31TCJ", date(2024, 7, 1), size, cloud_cover=cloud_cover)
    ten = {b: scene.reflectance(b, toa=True) for b in ("B02", "B04", "B08")}

    def at_20m_on_10m(a: np.ndarray) -> np.ndarray:  # 2 x 2 block means, repeated
        n = -(-size // 2)
        p = np.pad(a, ((0, 2 * n - a.shape[0]), (0, 2 * n - a.shape[1])), mode="edge")
        m = p.reshape(n, 2, n, 2).mean(axis=(1, 3))
        return np.repeat(np.repeat(m, 2, 0), 2, 1)[:size, :size]

    def up(a: np.ndarray) -> np.ndarray:  # a 20 m band onto the 10 m grid
        return np.repeat(np.repeat(a, 2, 0), 2, 1)[:size, :size]

    alpha = (scene.clouds.alpha[:size, :size] if scene.clouds is not None
             else np.zeros((size, size), np.float32))
    bands = {
        "B01": at_20m_on_10m(ten["B02"]), "B02": ten["B02"], "B04": ten["B04"],
        "B05": at_20m_on_10m((ten["B04"] + ten["B08"]) / 2), "B08": ten["B08"],
        "B8A": at_20m_on_10m(ten["B08"]), "B09": at_20m_on_10m(0.3 * ten["B08"]),
        "B10": 0.002 + 0.03 * alpha, "B11": up(scene.reflectance("B11", toa=True)),
        "B12": up(scene.reflectance("B12", toa=True)),
    }
    stack = np.lib.format.open_memmap(path.with_suffix(".part.npy"), mode="w+",
                                      dtype=np.float32, shape=(size, size, 10))
    for i, name in enumerate(s2cloudless.BANDS):
        stack[..., i] = bands.pop(name)
    stack.flush()
    del stack
    path.with_suffix(".part.npy").rename(path)
    return np.load(path, mmap_mode="r")


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
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
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

if __name__ == "__main__":
    main()
