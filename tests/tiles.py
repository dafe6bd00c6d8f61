"""Fetch XYZ tiles from a running tiler and read the colour at a lon/lat."""

from __future__ import annotations

import warnings
from typing import Protocol

import httpx
import morecantile
import numpy as np
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile


class Spot(Protocol):
    """Anything with WGS84 ``lon`` and ``lat``."""

    lon: float
    lat: float


WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
ZOOM = 14


def tile_of(spot: Spot, z: int = ZOOM) -> morecantile.Tile:
    return WEB_MERCATOR.tile(spot.lon, spot.lat, z)


def tile_url(template: str, tile: morecantile.Tile) -> str:
    return template.format(z=tile.z, x=tile.x, y=tile.y)


def decode_png(content: bytes) -> np.ndarray:
    """(bands, rows, cols) of a PNG; a PNG has no georeferencing, which GDAL warns about."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile(content) as mem, mem.open() as src:
            assert src.driver == "PNG"
            if src.count == 1 and src.colorinterp[0] == ColorInterp.palette:
                # a paletted PNG (the low-zoom pyramid's) as the RGBA a browser shows
                lut = np.zeros((256, 4), np.uint8)
                for index, rgba in src.colormap(1).items():
                    lut[index] = rgba
                return np.moveaxis(lut[src.read(1)], -1, 0)
            return src.read()


def rgba_at(image: np.ndarray, tile: morecantile.Tile, spot: Spot) -> tuple[int, ...]:
    """Colour of the pixel of ``image`` (tile ``tile``) that contains ``spot``."""
    bounds = WEB_MERCATOR.xy_bounds(tile)
    x, y = WEB_MERCATOR.xy(spot.lon, spot.lat)
    rows, cols = image.shape[1:]
    col = int((x - bounds.left) / (bounds.right - bounds.left) * cols)
    row = int((bounds.top - y) / (bounds.top - bounds.bottom) * rows)
    return tuple(int(v) for v in image[:, row, col])


def colour_at(template: str, spot: Spot, z: int = ZOOM) -> tuple[int, ...]:
    """GET the tile holding ``spot`` from ``template`` ({z}/{x}/{y}) and read its colour there."""
    tile = tile_of(spot, z)
    response = httpx.get(tile_url(template, tile), timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return rgba_at(decode_png(response.content), tile, spot)
