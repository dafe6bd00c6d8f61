"""Haze of a top-of-atmosphere (L1C) product, and reading it off what the models see.

The land-cover models were made for surface reflectance. An L1C band is roughly the surface
plus the path reflectance of the atmosphere, strongest in the blue. Each band's path
reflectance is estimated by dark-object subtraction (Chavez 1988) in blue and red, the two
bands with objects dark enough (dense vegetation, deep shadow, clear water): the darkest 0.1 %
of clear ground is taken to reflect 1 % at the surface and the rest is haze. The other bands
follow a relative scattering model, lambda^-n (Chavez 1996), fitted through blue and red (n 4
for a clear Rayleigh sky, less with aerosols): green, NIR and SWIR have no object dark enough
of their own. Histograms of the clear ground come from the L1C cloud-mask pass
(``ingest.clouds.cloudmask_toa``), which reads the product anyway.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from rasterio.windows import Window

HAZE_PERCENTILE, DARK_OBJECT, HAZE_MIN_PIXELS = 0.1, 0.01, 1000
HAZE_ANCHORS = ("B02", "B04")  # bands with dark objects: blue and red
SCATTERING_EXPONENT = (0.5, 4.0)  # hazy ... Rayleigh
WAVELENGTHS_UM = {"B01": 0.443, "B02": 0.49, "B03": 0.56, "B04": 0.665, "B05": 0.704,
                  "B06": 0.74, "B07": 0.783, "B08": 0.842, "B8A": 0.865, "B09": 0.945,
                  "B10": 1.375, "B11": 1.61, "B12": 2.19}
HAZE_BINS = np.linspace(0.0, 0.3, 601)  # 0.0005 reflectance per bin


def haze_from_histograms(histograms: dict[str, np.ndarray]) -> dict[str, float]:
    """Every band's haze from the ``HAZE_BINS`` histograms of clear ground of blue and red."""
    blue, red = (dark_object_haze(histograms[band]) for band in HAZE_ANCHORS)
    return scattering_haze(blue, red)


def scattering_haze(blue: float, red: float) -> dict[str, float]:
    """Every band's path reflectance from the blue's and the red's, as a power law of the
    wavelength (Chavez 1996: haze follows a relative scattering model, lambda^-n, n about 4 for
    a clear Rayleigh sky, less with aerosols). Only blue and red: green, NIR and SWIR have no
    object dark enough for a dark-object estimate of their own."""
    if blue <= 0:
        return dict.fromkeys(WAVELENGTHS_UM, 0.0)
    b, r = (WAVELENGTHS_UM[band] for band in HAZE_ANCHORS)
    n = math.log(blue / red) / math.log(r / b) if red > 0 else SCATTERING_EXPONENT[1]
    n = min(max(n, SCATTERING_EXPONENT[0]), SCATTERING_EXPONENT[1])
    return {band: blue * (w / b) ** -n for band, w in WAVELENGTHS_UM.items()}


def dark_object_haze(histogram: np.ndarray) -> float:
    """The band's path reflectance by dark-object subtraction (Chavez 1988): the darkest
    ``HAZE_PERCENTILE`` of clear ground minus the ``DARK_OBJECT`` reflectance it is assumed to
    have; 0 when too few clear pixels."""
    total = int(histogram.sum())
    if total < HAZE_MIN_PIXELS:
        return 0.0
    rank = np.searchsorted(np.cumsum(histogram), total * HAZE_PERCENTILE / 100)
    return max(float(HAZE_BINS[rank]) - DARK_OBJECT, 0.0)


def haze_removed(read: Callable[[Window], tuple[np.ndarray, np.ndarray]],
                 haze: list[float]) -> Callable[[Window], tuple[np.ndarray, np.ndarray]]:
    """A window reader giving ``read``'s reflectance less each band's ``haze``: roughly the
    surface reflectance the land-cover models were made for, from top-of-atmosphere values."""
    path = np.asarray(haze, dtype=np.float32)[:, None, None]

    def read_without_haze(window: Window) -> tuple[np.ndarray, np.ndarray]:
        reflectance, valid = read(window)
        reflectance -= path
        return reflectance, valid

    return read_without_haze


def haze_lineage(haze: dict[str, float], bands: list[str]) -> str:
    """What was subtracted from the model's bands, for the item's lineage."""
    return ("haze removed by dark-object subtraction in blue and red and a lambda^-n "
            "scattering model (" + ", ".join(f"{b} {haze.get(b, 0.0):.4f}" for b in bands)
            + ")")
