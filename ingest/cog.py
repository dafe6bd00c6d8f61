"""Writing Cloud-Optimized GeoTIFFs with rio-cogeo, atomically.

Class rasters get overviews by MODE (never averaged: an average of class codes is another,
wrong, class) and an embedded colour table; the file appears at its final path only complete.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles

from ingest.atomic import atomic_file

BLOCKSIZE = 512


class CogError(RuntimeError):
    """A COG could not be written or is not valid."""


def cog_profile(dtype: str, *, compress: str = "DEFLATE") -> dict:
    profile = cog_profiles.get(compress.lower()).copy()
    profile.update(blockxsize=BLOCKSIZE, blockysize=BLOCKSIZE)
    # Horizontal differencing pays off on integer rasters with long runs of equal values.
    if np.issubdtype(np.dtype(dtype), np.integer):
        profile["predictor"] = 2
    return profile


def write_cog(
    array: np.ndarray,
    dst: Path,
    *,
    crs: CRS | str,
    transform: Affine,
    nodata: int | float | None,
    categorical: bool,
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
    tags: dict[str, str] | None = None,
    compress: str = "DEFLATE",
) -> Path:
    """Write a (bands, rows, cols) or (rows, cols) array as a COG at ``dst``, atomically."""
    data = array[np.newaxis] if array.ndim == 2 else array
    count, height, width = data.shape
    src_profile = {
        "driver": "GTiff", "dtype": data.dtype.name, "count": count, "height": height,
        "width": width, "crs": crs, "transform": transform, "nodata": nodata,
        "tiled": True, "blockxsize": BLOCKSIZE, "blockysize": BLOCKSIZE,
    }
    dst = Path(dst)
    with atomic_file(dst) as tmp, MemoryFile() as mem:
        with mem.open(**src_profile) as src:
            src.write(data)
            if colormap:
                # On the source too: GDAL warns (rightly) about MODE overviews of a
                # palette band that has no palette yet.
                src.write_colormap(1, colormap)
            if tags:
                src.update_tags(**tags)
        with mem.open() as src, warnings.catch_warnings():
            # rio-cogeo announces that a colour table makes the band a palette: intended.
            warnings.filterwarnings("ignore", "Dataset color interpretation was set")
            cog_translate(
                src, str(tmp), cog_profile(data.dtype.name, compress=compress),
                nodata=nodata,
                overview_resampling="mode" if categorical else "average",
                colormap=colormap, in_memory=False, quiet=True,
                config={"GDAL_NUM_THREADS": "ALL_CPUS"},
            )
    return dst


def validate_cog(path: Path) -> None:
    valid, errors, _warnings = cog_validate(str(path), quiet=True)
    if not valid:
        raise CogError(f"{path} is not a valid COG: {errors}")


def read_colormap(path: Path) -> dict[int, tuple[int, ...]]:
    with rasterio.open(path) as src:
        return src.colormap(1)
