"""Writing Cloud-Optimized GeoTIFFs with rio-cogeo, atomically.

Class rasters get overviews by MODE (never averaged: an average of class codes is another,
wrong, class) and an embedded colour table; the file appears at its final path only complete.

GDAL does not always report a write that failed: when the disk fills up while the final copy
is flushed, ``cog_translate`` returns and leaves a truncated file (found by the disk-full
fault test, issue 11). So every COG is read back - full resolution compared with the array,
every overview read - before it is renamed into place (about a fifth of the write's time),
and a failure on a file system without room for the file becomes a ``DiskFullError`` naming
it, which the pipeline retries once space is freed.
"""

from __future__ import annotations

import errno
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles

from ingest.atomic import atomic_file
from ingest.errors import TransientError

BLOCKSIZE = 512
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class CogError(RuntimeError):
    """A COG could not be written or is not valid."""


class DiskFullError(TransientError):
    """No space left where a file was being written: retry once space is freed."""


def mount_point(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def disk_full_error(dst: Path, exc: BaseException | None = None) -> DiskFullError:
    """The error naming the file system that filled up while writing ``dst``."""
    mount = mount_point(dst.parent)
    free = shutil.disk_usage(mount).free
    detail = f": {exc}" if exc is not None else ""
    return DiskFullError(f"disk full: no space left on {mount} ({free} bytes free) while "
                         f"writing {dst}{detail}")


def is_disk_full(exc: BaseException) -> bool:
    """An OSError for a full disk or quota, anywhere in the exception's chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in NO_SPACE:
            return True
        if "No space left on device" in str(seen) or "Disk quota exceeded" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def space_needed(data: np.ndarray) -> int:
    """A generous bound of the disk a COG of ``data`` takes while written: rio-cogeo writes an
    intermediate file with overviews beside the final copy (twice the raw size, plus room for
    headers; DEFLATE can exceed the raw size a little on noise)."""
    return 2 * data.nbytes + (1 << 20)


@contextmanager
def _disk_full_named(dst: Path, need: int) -> Iterator[None]:
    """A failed write on a file system without room for it becomes a ``DiskFullError``.

    GDAL reports a full disk as "Write failed", a libtiff IO error or not at all (a truncated
    file, caught by the read-back), so the free space after clean-up is what decides.
    """
    try:
        yield
    except Exception as exc:
        if isinstance(exc, DiskFullError):
            raise
        if is_disk_full(exc) or shutil.disk_usage(mount_point(dst.parent)).free < need:
            raise disk_full_error(dst, exc) from exc
        raise


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
    with _disk_full_named(dst, space_needed(data)), atomic_file(dst) as tmp, MemoryFile() as mem:
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
        _read_back(tmp, data, dst)
    return dst


def _read_back(path: Path, data: np.ndarray, dst: Path) -> None:
    """Is the file at ``path`` the array ``data``, with every overview readable?"""
    try:
        with rasterio.open(path) as src:
            same = src.count == data.shape[0] and np.array_equal(src.read(), data)
            levels = len(src.overviews(1))
        for level in range(levels):
            with rasterio.open(path, overview_level=level) as src:
                src.read()
    except (RasterioError, CPLE_BaseError) as exc:
        raise CogError(f"{dst}: written but unreadable: {exc}") from exc
    if not same:
        raise CogError(f"{dst}: written but its pixels differ from the array written")


def validate_cog(path: Path) -> None:
    valid, errors, _warnings = cog_validate(str(path), quiet=True)
    if not valid:
        raise CogError(f"{path} is not a valid COG: {errors}")


def read_colormap(path: Path) -> dict[int, tuple[int, ...]]:
    with rasterio.open(path) as src:
        return src.colormap(1)
