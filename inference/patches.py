"""BigEarthNet-style training patches: the folder format ``earthsig models train`` reads.

    <root>/<patch_id>/<patch_id>_B02.tif   uint16 DN = reflectance x 10000 (B03, B04, B08 alike)
    <root>/<patch_id>/<patch_id>_reference_map.tif   CLC level-3 codes (e.g. 512), 0 = none

One folder per patch (BigEarthNet's are 120 x 120 px at 10 m); all patches the same size.
``write_generated_patches`` cuts such patches from generated sample scenes (not real data),
for tests and demos.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio import Affine

from catalog_schemas import clc
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


def write_generated_patches(root: Path, count: int, size: int = 64, seed: int = 1) -> Path:
    """``count`` patches of ``size`` px from one generated cloud-free scene."""
    from ingest.samples import generate_scene, reflectance_from_dn

    per_row = int(np.ceil(np.sqrt(count)))
    scene = generate_scene("32TQM", dt.date(2024, 7, 15), per_row * size, seed=seed)
    bands = np.stack([reflectance_from_dn(scene.dn(b)) for b in BANDS])
    lut = np.zeros(256, np.uint16)
    for c in clc.clc_classes():
        lut[c.grid_code] = c.clc_code
    codes = lut[scene.truth()]
    for k in range(count):
        r, c = divmod(k, per_row)
        win = (slice(r * size, (r + 1) * size), slice(c * size, (c + 1) * size))
        pid = f"generated_{seed}_{k:04d}"
        transform = scene.window(10).transform * Affine.translation(c * size, r * size)
        write_patch(Path(root) / pid, pid, bands[:, win[0], win[1]], codes[win],
                    crs=scene.grid.crs, transform=transform)
    return Path(root)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def _write(path: Path, data: np.ndarray, geo: dict[str, Any]) -> None:
    profile = {"driver": "GTiff", "height": data.shape[0], "width": data.shape[1], "count": 1,
               "dtype": data.dtype.name, **geo}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
