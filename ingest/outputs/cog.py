"""Writing Cloud-Optimized GeoTIFFs with GDAL's COG driver and rio-cogeo's profiles, atomically.

Class rasters get overviews by MODE (never averaged: an average of class codes is another,
wrong, class) and an embedded colour table; the file appears at its final path only complete.

The file is written in one pass by GDAL's COG driver with rio-cogeo's creation profile (the
same tiles, compression, overview levels and resampling as ``cog_translate``, pixel for pixel:
``tests/ingest/test_cog.py``), which skips ``cog_translate``'s uncompressed intermediate
copies: 1.1-1.3x faster (docs/benchmarks.md).

GDAL does not always report a write that failed: when the disk fills up while the final copy
is flushed, the writer returns and leaves a truncated file (found by the disk-full fault test,
issue 11). So every COG is checked before it is renamed into place: the file opens, and every
tile of every level lies wholly inside the file as written (its offset and byte count from the
TIFF's own tile table, not a decode of every pixel: milliseconds instead of a fifth of the
write). A failure on a file system without room for the file becomes a ``DiskFullError``
naming it, which the pipeline retries once space is freed.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile
from rasterio.shutil import copy as rio_copy
from rio_cogeo.cogeo import cog_validate
from rio_cogeo.profiles import cog_profiles
from rio_cogeo.utils import get_maximum_overview_level

from ingest.errors import TransientError
from ingest.outputs.atomic import atomic_file

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
    """A generous bound of the disk a COG of ``data`` takes while written: the COG driver
    writes its overviews to a temporary file beside the final copy (twice the raw size, plus
    room for headers; DEFLATE can exceed the raw size a little on noise)."""
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
    resampling = "MODE" if categorical else "AVERAGE"
    profile = cog_profile(data.dtype.name, compress=compress)
    options = {
        "compress": profile["compress"], "blocksize": BLOCKSIZE,
        "overview_resampling": resampling, "num_threads": "ALL_CPUS",
    }
    if "predictor" in profile:
        options["predictor"] = profile["predictor"]
    src_profile = {
        "driver": "GTiff", "dtype": data.dtype.name, "count": count, "height": height,
        "width": width, "crs": crs, "transform": transform, "nodata": nodata,
        "tiled": True, "blockxsize": BLOCKSIZE, "blockysize": BLOCKSIZE,
    }
    dst = Path(dst)
    with _disk_full_named(dst, space_needed(data)), atomic_file(dst) as tmp, \
            rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"), MemoryFile() as mem:
        with mem.open(**src_profile) as src:
            src.write(data)
            if colormap:
                # Before the overviews: GDAL warns (rightly) about MODE overviews of a
                # palette band that has no palette yet.
                src.write_colormap(1, colormap)
            # As cog_translate tags its files: readers pick the resampling for their zooms.
            src.update_tags(**(tags or {}), OVERVIEW_RESAMPLING=resampling)
            # Uncompressed overviews in memory, built as cog_translate builds them (the COG
            # driver's own would round odd sizes down, not up: other pixels).
            levels = get_maximum_overview_level(width, height, minsize=BLOCKSIZE)
            src.build_overviews([2 ** k for k in range(1, levels + 1)],
                                Resampling[resampling.lower()])
        with mem.open() as src:
            # One compressing pass, straight into the COG layout.
            rio_copy(src, str(tmp), driver="COG", overviews="FORCE_USE_EXISTING", **options)
        _check_written(tmp, data, dst)
    return dst


def _check_written(path: Path, data: np.ndarray, dst: Path) -> None:
    """Is the file at ``path`` complete: readable, the array's shape, and every tile of every
    level inside the file? A truncated write leaves tiles pointing past its end."""
    size = path.stat().st_size
    try:
        with rasterio.open(path) as src:
            if (src.count, src.height, src.width, src.dtypes[0]) != (
                    *data.shape, data.dtype.name):
                raise CogError(f"{dst}: written as {src.count} x {src.height} x {src.width} "
                               f"{src.dtypes[0]}, not the array's {data.shape} {data.dtype}")
            levels: list[tuple[int, int, int | None]] = [(src.height, src.width, None)]
            for k in range(len(src.overviews(1))):
                with rasterio.open(path, overview_level=k) as ovr:
                    levels.append((ovr.height, ovr.width, k))
            block_h, block_w = src.block_shapes[0]
            for height, width, ovr in levels:
                for band in range(1, src.count + 1):
                    for r in range(-(-height // block_h)):
                        for c in range(-(-width // block_w)):
                            _check_tile(src, band, ovr, r, c, size, dst)
    except (RasterioError, CPLE_BaseError) as exc:
        raise CogError(f"{dst}: written but unreadable: {exc}") from exc


def _check_tile(src: rasterio.io.DatasetReader, band: int, ovr: int | None, row: int,
                col: int, size: int, dst: Path) -> None:
    offset = src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=band, ovr=ovr)
    count = src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=band, ovr=ovr)
    if not offset or not count or int(offset) + int(count) > size:
        level = "full resolution" if ovr is None else f"overview {ovr}"
        raise CogError(f"{dst}: written but incomplete: tile {row},{col} of band {band} at "
                       f"{level} (offset {offset}, {count} bytes) is not inside the "
                       f"{size}-byte file")


def validate_cog(path: Path) -> None:
    valid, errors, _warnings = cog_validate(str(path), quiet=True)
    if not valid:
        raise CogError(f"{path} is not a valid COG: {errors}")


def read_colormap(path: Path) -> dict[int, tuple[int, ...]]:
    with rasterio.open(path) as src:
        return src.colormap(1)
