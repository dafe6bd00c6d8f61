"""BigEarthNet-style training patches: the folder format ``earthsig models train`` reads.

    <root>/<patch_id>/<patch_id>_B02.tif   uint16 DN = reflectance x 10000 (B03, B04, B08 alike)
    <root>/<patch_id>/<patch_id>_reference_map.tif   CLC level-3 codes (e.g. 512), 0 = none

One folder per patch (BigEarthNet's are 120 x 120 px at 10 m); all patches the same size.
``samples.patches.write_generated_patches`` cuts such patches from generated sample
scenes (not real data),
for tests and demos.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio import Affine

from inference.errors import InferenceError

BANDS = ("B02", "B03", "B04", "B08")
DN_SCALE = 10000.0
REFERENCE = "reference_map"


@dataclass(frozen=True)
class Patches:
    x: np.ndarray  # [N, 4, H, W] float32 reflectance
    y: np.ndarray  # [N, H, W] CLC codes (0 = unlabelled)


def read_patches(root: Path) -> Patches:
    folders = sorted(p for p in Path(root).iterdir() if p.is_dir())
    if not folders:
        raise InferenceError(f"no patch folders in {root} (see inference/patches.py)")
    xs, ys = [], []
    for folder in folders:
        pid = folder.name
        try:
            bands = [_read(folder / f"{pid}_{b}.tif") for b in BANDS]
            ys.append(_read(folder / f"{pid}_{REFERENCE}.tif").astype(np.int32))
        except rasterio.errors.RasterioIOError as exc:
            raise InferenceError(f"patch {folder} is incomplete: {exc}") from exc
        xs.append(np.stack(bands).astype(np.float32) / DN_SCALE)
    if len({a.shape for a in xs}) != 1:
        raise InferenceError(f"patches in {root} differ in size")
    return Patches(np.stack(xs), np.stack(ys))


def write_patch(folder: Path, pid: str, reflectance: np.ndarray, codes: np.ndarray, *,
                crs: rasterio.crs.CRS, transform: Affine) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    dn = np.clip(np.rint(reflectance * DN_SCALE), 0, 65535).astype(np.uint16)
    geo = {"crs": crs, "transform": transform}
    for band, data in zip(BANDS, dn, strict=True):
        _write(folder / f"{pid}_{band}.tif", data, geo)
    _write(folder / f"{pid}_{REFERENCE}.tif", codes.astype(np.uint16), geo)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def _write(path: Path, data: np.ndarray, geo: dict[str, Any]) -> None:
    profile = {"driver": "GTiff", "height": data.shape[0], "width": data.shape[1], "count": 1,
               "dtype": data.dtype.name, **geo}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
