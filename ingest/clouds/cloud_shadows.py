"""Where clouds cast their shadows: s2cloudless finds clouds, not shadows.

As Google Earth Engine's s2cloudless tutorial and Fmask place them: the clouds are projected
away from the sun (its zenith and azimuth from ``view:sun_elevation``/``view:sun_azimuth``,
which earth-search items carry and the SAFE reader takes from the granule's ``MTD_TL.xml``)
for every cloud height between 0.5 and 3 km, and the shadow is the part of that reach whose
pixels are dark (the caller says which: not water, not snow) and not cloud.
"""

from __future__ import annotations

import math

import numpy as np
import pystac

CLOUD_HEIGHTS_M = (500.0, 3000.0)
MAX_SUN_ZENITH = 80.0  # beyond it, shadows reach too far to be placed


def sun_angles(item: pystac.Item) -> tuple[float, float] | None:
    """(zenith, azimuth) of the sun in degrees from the item's ``view:sun_elevation`` and
    ``view:sun_azimuth`` (earth-search's items, or a SAFE product's ``MTD_TL.xml``)."""
    elevation = item.properties.get("view:sun_elevation")
    azimuth = item.properties.get("view:sun_azimuth")
    if elevation is None or azimuth is None:
        return None
    return 90.0 - float(elevation), float(azimuth)


def cast_shadows(cloud: np.ndarray, dark: np.ndarray, sun: tuple[float, float],
                 resolution_m: float) -> np.ndarray:
    """Dark pixels where a cloud at some height between ``CLOUD_HEIGHTS_M`` would cast its
    shadow; ``cloud`` and ``dark`` on one grid of ``resolution_m`` pixels, ``sun`` (zenith,
    azimuth) in degrees."""
    zenith, azimuth = sun
    # Away from the sun, in (rows southward, columns eastward) of the UTM grid, whose north
    # is within a couple of degrees of true north over a tile.
    d_row, d_col = math.cos(math.radians(azimuth)), -math.sin(math.radians(azimuth))
    reach = math.tan(math.radians(min(zenith, MAX_SUN_ZENITH))) / resolution_m  # px per m
    near, far = (h * reach for h in CLOUD_HEIGHTS_M)
    zone = np.zeros_like(cloud)
    # Every whole-pixel displacement between the nearest and the farthest shadow, once.
    seen: set[tuple[int, int]] = set()
    for step in np.arange(math.floor(near), math.ceil(far) + 1, 0.5):
        offset = round(step * d_row), round(step * d_col)
        if offset not in seen:
            seen.add(offset)
            zone |= shifted(cloud, *offset)
    return zone & dark & ~cloud


def shifted(mask: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``mask`` moved by (rows, cols) pixels; what comes in from outside is False."""
    out = np.zeros_like(mask)
    height, width = mask.shape
    if abs(rows) >= height or abs(cols) >= width:
        return out
    out[max(rows, 0): height + min(rows, 0), max(cols, 0): width + min(cols, 0)] = \
        mask[max(-rows, 0): height + min(-rows, 0), max(-cols, 0): width + min(-cols, 0)]
    return out


