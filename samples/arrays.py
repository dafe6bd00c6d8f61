"""Array helpers shared by the scene, land cover and clouds: 10 m <-> 20 m and row slicing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ROW_CHUNK = 512  # rows per slice when filling large rasters (bounds temporary memory)


def upsample2(array: np.ndarray) -> np.ndarray:
    """20 m -> 10 m: each pixel becomes a 2 x 2 block."""
    rows, cols = array.shape
    out = np.empty((2 * rows, 2 * cols), dtype=array.dtype)
    out.reshape(rows, 2, cols, 2)[...] = array[:, None, :, None]
    return out


def block_reduce(array: np.ndarray, combine: np.ufunc) -> np.ndarray:
    """10 m -> 20 m: ``combine`` the four pixels of each 2 x 2 block (the array's sides even)."""
    top = combine(array[0::2, 0::2], array[0::2, 1::2])
    top = combine(top, array[1::2, 0::2], out=top)
    return combine(top, array[1::2, 1::2], out=top)


def by_rows(fill: Callable[[int, int], np.ndarray], shape: tuple[int, int],
            dtype: type) -> np.ndarray:
    """An array filled slice by slice of rows, so temporaries stay small on a full tile."""
    out: np.ndarray = np.empty(shape, dtype)
    for start in range(0, shape[0], ROW_CHUNK):
        stop = min(start + ROW_CHUNK, shape[0])
        out[start:stop] = fill(start, stop)
    return out
