"""Top-of-atmosphere reflectance emulated from an L2A product, for models trained on L1C.

Dynamic World was trained on L1C (top-of-atmosphere) reflectance. An L2A band is the surface
reflectance Sen2Cor left after removing the atmosphere; fed as it is, the network sees water
darker than any water it was trained on and calls the Baltic "trees". The inverse of what
``ingest.clouds.haze`` does for L1C products puts the atmosphere back: each band gets a path
reflectance that follows the same relative scattering model, lambda^-n (Chavez 1996), through
a blue and a red path reflectance of a standard clear European sky::

    toa(band) = surface(band) + path_blue * (wavelength(band) / wavelength(B02)) ** -n

with ``n`` fixed by the blue/red pair (``haze.scattering_haze``). Transmittance (the surface
signal is itself attenuated a few per cent) is left out: one number per band keeps it an
offset the model's normalisation absorbs, and the measurement on the real patches
(docs/models.md) chose the path by its effect, not by a radiative-transfer code.

The blue and red path reflectances were chosen on the 24 BigEarthNet v2 patches of one
source (configilm's BENv2 fixture, tile 33UUP, Bavaria and Austria, 2017) from a grid
(``earthsig models tune-atmosphere``) and are reported on the 44 patches of the other sources
(``earthsig models eval clc-dynamicworld --bigearthnet``; docs/models.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rasterio.windows import Window

from ingest.clouds.haze import scattering_haze

# Path reflectance of blue (B02) and red (B04) of the standard sky, chosen by
# `earthsig models tune-atmosphere` on configilm's BENv2 patches: n = ln(0.07 / 0.0245) /
# ln(665 / 490) = 3.4 between them, near a clear Rayleigh sky's 4; green gets 0.044, the red
# edge 0.020-0.014, NIR 0.011, SWIR 0.0012 and 0.0004.
STANDARD_PATH_BLUE = 0.07
STANDARD_PATH_RED = 0.0245

WindowReader = Callable[[Window], tuple[np.ndarray, np.ndarray]]


def path_reflectance(bands: list[str] | tuple[str, ...], blue: float = STANDARD_PATH_BLUE,
                     red: float = STANDARD_PATH_RED) -> np.ndarray:
    """float32 path reflectance of each band (0 for a band the model has no wavelength of)."""
    path = scattering_haze(blue, red)
    return np.array([path.get(b, 0.0) for b in bands], np.float32)


def add_path(reflectance: np.ndarray, path: np.ndarray) -> np.ndarray:
    """[bands, ...] surface reflectance -> emulated TOA (in place; returned)."""
    reflectance += path.reshape(-1, *([1] * (reflectance.ndim - 1)))
    return reflectance


def toa_emulated(read: WindowReader, path: np.ndarray) -> WindowReader:
    """A window reader giving ``read``'s surface reflectance plus each band's ``path``."""

    def read_as_toa(window: Window) -> tuple[np.ndarray, np.ndarray]:
        reflectance, valid = read(window)
        return add_path(reflectance, path), valid

    return read_as_toa


def emulation_lineage(bands: list[str], path: np.ndarray) -> str:
    """What was added to the model's bands, for the item's lineage."""
    return ("top-of-atmosphere reflectance emulated for a model trained on L1C: path "
            "reflectance of a standard sky added (lambda^-n through blue and red; "
            + ", ".join(f"{b} +{p:.4f}" for b, p in zip(bands, path, strict=True)) + ")")
