"""The low-zoom pyramid of a collection's map: zooms 0-7 drawn from tiles kept on disk.

Below zoom 8 a mosaic tile spans hundreds of products, so the tiler does not draw it from the
items. The pipeline keeps a pyramid instead (``ingest/catalog/pyramid_update.py``): after a
product is registered, the collection's default map (latest, active model versions, clouds
filled from older products) is read as class codes at zoom :data:`BASE_ZOOM` over the product,
and every tile above is composed again from its four children, each pixel the **mode** of the
2 x 2 codes below it (classes are categories: never an average; nodata only where all four
are). The tiler colours these tiles at zooms 0-7 (``tiler/pyramid_tiles.py``).

This module is the contract between the two: where a tile lives, how it is stored and the
composition rule. A tile is a 256 x 256 **paletted PNG** whose pixel indices are the CLC grid
codes and whose palette is the CLC legend (index 0, nodata, transparent): the same file is the
codes the composition reads back and the image the tiler serves as it is, with no decoding or
colouring per request. Tiles are written atomically (readers never see half a file).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from catalog_schemas import clc

BASE_ZOOM = 8  # the lowest zoom the tiler draws from the items (its mosaic minzoom)
TILE = 256
FOLDER = "pyramid"  # under the asset store
NODATA = 0


def pyramid_root(asset_root: Path, collection: str) -> Path:
    return asset_root / FOLDER / collection


def tile_path(root: Path, z: int, x: int, y: int) -> Path:
    return root / str(z) / str(x) / f"{y}.png"


@cache
def _palette() -> tuple[list[int], bytes]:
    """The CLC legend as a PNG palette (RGB per index) and its alpha table (0 for nodata)."""
    rgb = [0] * (256 * 3)
    alpha = bytearray(256)
    for code, rgba in clc.colormap().items():
        rgb[3 * code:3 * code + 3] = rgba[:3]
        alpha[code] = rgba[3]
    alpha[NODATA] = 0
    return rgb, bytes(alpha)


def encode_tile(codes: np.ndarray) -> bytes:
    """Grid codes as a paletted PNG in CLC colours (see the module's docstring)."""
    rgb, alpha = _palette()
    image = Image.fromarray(np.ascontiguousarray(codes, dtype=np.uint8), "P")
    image.putpalette(rgb)
    out = io.BytesIO()
    image.save(out, format="PNG", transparency=alpha, optimize=True)
    return out.getvalue()


@cache
def empty_tile() -> bytes:
    """A tile with nothing published under it: all transparent."""
    return encode_tile(np.zeros((TILE, TILE), np.uint8))


def read_tile_bytes(root: Path, z: int, x: int, y: int) -> bytes | None:
    """The stored PNG, or None where the pyramid has no tile (no data below)."""
    try:
        return tile_path(root, z, x, y).read_bytes()
    except FileNotFoundError:
        return None


def read_tile(root: Path, z: int, x: int, y: int) -> np.ndarray | None:
    """The tile's grid codes, or None where the pyramid has no tile (no data below)."""
    stored = read_tile_bytes(root, z, x, y)
    if stored is None:
        return None
    with Image.open(io.BytesIO(stored)) as image:
        return np.asarray(image, dtype=np.uint8)


def write_tile(root: Path, z: int, x: int, y: int, codes: np.ndarray) -> None:
    """Store the tile (or remove it when it holds no data); readers never see half a file."""
    path = tile_path(root, z, x, y)
    if not codes.any():
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tile-", suffix=".png")
    with os.fdopen(fd, "wb") as f:
        f.write(encode_tile(codes))
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
