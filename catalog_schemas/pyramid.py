"""The low-zoom pyramid of a collection's map: zooms 0-7 drawn from tiles kept on disk.

Below zoom 8 a mosaic tile spans hundreds of products, so the tiler does not draw it from the
items. The pipeline keeps a pyramid instead (``ingest/catalog/pyramid_update.py``): after a
product is registered, the collection's default map (latest, active model versions, clouds
filled from older products) is read as class codes at zoom :data:`BASE_ZOOM` over the product,
and every tile above is composed again from its four children, each pixel the **mode** of the
2 x 2 codes below it (classes are categories: never an average; nodata only where all four
are). The tiler colours these tiles at zooms 0-7 (``tiler/pyramid_tiles.py``).

This module is the contract between the two: where a tile lives, how it is stored (uint8 CLC
grid codes, 256 x 256, compressed ``.npz``, written atomically) and the composition rule.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

BASE_ZOOM = 8  # the lowest zoom the tiler draws from the items (its mosaic minzoom)
TILE = 256
FOLDER = "pyramid"  # under the asset store
NODATA = 0


def pyramid_root(asset_root: Path, collection: str) -> Path:
    return asset_root / FOLDER / collection


def tile_path(root: Path, z: int, x: int, y: int) -> Path:
    return root / str(z) / str(x) / f"{y}.npz"


def read_tile(root: Path, z: int, x: int, y: int) -> np.ndarray | None:
    """The tile's grid codes, or None where the pyramid has no tile (no data below)."""
    path = tile_path(root, z, x, y)
    try:
        with np.load(path) as stored:
            return np.asarray(stored["codes"], dtype=np.uint8)
    except FileNotFoundError:
        return None


def write_tile(root: Path, z: int, x: int, y: int, codes: np.ndarray) -> None:
    """Store the tile (or remove it when it holds no data); readers never see half a file."""
    path = tile_path(root, z, x, y)
    if not codes.any():
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tile-", suffix=".npz")
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(f, codes=codes.astype(np.uint8))
    os.replace(tmp, path)


def mode_downsample(codes: np.ndarray) -> np.ndarray:
    """Half size: each pixel the most frequent non-nodata code of its 2 x 2 block (ties: the
    first in reading order), nodata only where the whole block is."""
    h, w = codes.shape
    blocks = codes.reshape(h // 2, 2, w // 2, 2).transpose(0, 2, 1, 3).reshape(h // 2, w // 2, 4)
    same = (blocks[..., :, None] == blocks[..., None, :]) & (blocks[..., None, :] != NODATA)
    counts = same.sum(axis=-1)
    counts[blocks == NODATA] = -1
    pick = counts.argmax(axis=-1)
    return np.take_along_axis(blocks, pick[..., None], axis=-1)[..., 0]


def compose(root: Path, z: int, x: int, y: int) -> np.ndarray:
    """Tile (z, x, y) from its four stored children at z + 1."""
    quad = np.zeros((2 * TILE, 2 * TILE), np.uint8)
    for dy in (0, 1):
        for dx in (0, 1):
            child = read_tile(root, z + 1, 2 * x + dx, 2 * y + dy)
            if child is not None:
                quad[dy * TILE:(dy + 1) * TILE, dx * TILE:(dx + 1) * TILE] = child
    return mode_downsample(quad)


def parents(tiles: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """The tiles one zoom up that contain ``tiles`` (x, y)."""
    return {(x // 2, y // 2) for x, y in tiles}
