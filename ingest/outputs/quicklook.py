"""A PNG quicklook of the land cover in CLC colours (transparent where there is no data)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from catalog_schemas import clc


def write_thumbnail(classes: np.ndarray, path: Path, *, max_size: int = 512) -> Path:
    """Paletted PNG of at most ``max_size`` px a side; nearest sampling keeps class codes."""
    step = max(1, int(np.ceil(max(classes.shape) / max_size)))
    small = np.ascontiguousarray(classes[::step, ::step])
    profile = {"driver": "PNG", "dtype": "uint8", "count": 1, "height": small.shape[0],
               "width": small.shape[1]}
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), warnings.catch_warnings():
        # A quicklook is a picture, not a map: no georeferencing, no .aux.xml beside it.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(small, 1)
            dst.write_colormap(1, clc.colormap())
    return path
