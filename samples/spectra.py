"""Spectra of the generated products: bands, SCL classes, class signatures and the DN encoding.

The signatures are made up (summer values chosen for the spectral reference model); the band
set, the SCL values and the DN encoding of processing baseline 05.10 are those of real L2A.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

BASE_RESOLUTION = 10

# Processing baseline >= 04.00: DN = reflectance / scale - offset / scale, 0 is nodata.
DN_SCALE = 0.0001
DN_OFFSET = -0.1
DN_NODATA = 0


@dataclass(frozen=True)
class SpectralBand:
    """A band of the product: its file, earth-search asset key and spectral position (µm)."""

    name: str
    asset: str
    common_name: str
    center_wavelength: float
    full_width_half_max: float
    resolution: int
    title: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.tif"


# The bands of every generated product, by wavelength: the nine Dynamic World reads. L1C
# products also carry the four of ``TOA_BANDS``. Each band is defined here once.
BANDS = (
    SpectralBand("B02", "blue", "blue", 0.49, 0.098, 10, "Blue (band 2) - 10m"),
    SpectralBand("B03", "green", "green", 0.56, 0.045, 10, "Green (band 3) - 10m"),
    SpectralBand("B04", "red", "red", 0.665, 0.038, 10, "Red (band 4) - 10m"),
    SpectralBand("B05", "rededge1", "rededge", 0.704, 0.019, 20,
                 "Vegetation red edge 1 (band 5) - 20m"),
    SpectralBand("B06", "rededge2", "rededge", 0.74, 0.018, 20,
                 "Vegetation red edge 2 (band 6) - 20m"),
    SpectralBand("B07", "rededge3", "rededge", 0.783, 0.028, 20,
                 "Vegetation red edge 3 (band 7) - 20m"),
    SpectralBand("B08", "nir", "nir", 0.842, 0.145, 10, "NIR 1 (band 8) - 10m"),
    SpectralBand("B11", "swir16", "swir16", 1.61, 0.143, 20, "SWIR 1.6μm (band 11) - 20m"),
    SpectralBand("B12", "swir22", "swir22", 2.19, 0.242, 20, "SWIR 2.2μm (band 12) - 20m"),
)
BAND_NAMES = tuple(b.name for b in BANDS)


class Scl(IntEnum):
    """Sen2Cor scene classification values."""

    NO_DATA = 0
    SATURATED_OR_DEFECTIVE = 1
    DARK_AREA_PIXELS = 2
    CLOUD_SHADOWS = 3
    VEGETATION = 4
    NOT_VEGETATED = 5
    WATER = 6
    UNCLASSIFIED = 7
    CLOUD_MEDIUM_PROBABILITY = 8
    CLOUD_HIGH_PROBABILITY = 9
    THIN_CIRRUS = 10
    SNOW = 11


CLOUD_SCL = (Scl.CLOUD_MEDIUM_PROBABILITY, Scl.CLOUD_HIGH_PROBABILITY, Scl.THIN_CIRRUS)

# The bands ``SIGNATURES`` give, in the order of their columns; the red edges are derived.
SIGNATURE_BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
RED_EDGE_BANDS = ("B05", "B06", "B07")

# Surface reflectance B02, B03, B04, B08, B11, B12 of each generated CLC class (summer values).
# Chosen so that brightness, NDWI, NDVI and B08 stay well inside their class's interval of the
# reference model's rules even at the extremes of the variation below.
SIGNATURES: dict[int, tuple[float, ...]] = {
    512: (0.06, 0.05, 0.03, 0.02, 0.01, 0.005),  # water bodies
    311: (0.03, 0.06, 0.03, 0.42, 0.20, 0.09),  # broad-leaved forest
    312: (0.02, 0.04, 0.018, 0.24, 0.12, 0.05),  # coniferous forest
    231: (0.04, 0.07, 0.05, 0.30, 0.22, 0.12),  # pastures
    211: (0.07, 0.09, 0.10, 0.24, 0.28, 0.20),  # non-irrigated arable land
    112: (0.10, 0.11, 0.12, 0.15, 0.20, 0.18),  # discontinuous urban fabric
    335: (0.85, 0.83, 0.80, 0.70, 0.08, 0.06),  # glaciers and perpetual snow
}
CLASS_SCL: dict[int, Scl] = {
    512: Scl.WATER, 311: Scl.VEGETATION, 312: Scl.VEGETATION, 231: Scl.VEGETATION,
    211: Scl.NOT_VEGETATED, 112: Scl.NOT_VEGETATED, 335: Scl.SNOW,
}
CLASSES = tuple(SIGNATURES)
REGION_BRIGHTNESS = 0.10  # +- per parcel, all bands together
REGION_BAND_JITTER = 0.02  # +- per parcel and band
PIXEL_NOISE = 0.025  # relative standard deviation per pixel and band


# The red edge (B05, B06, B07) of a signature, from its red (B04) and NIR (B08): each band lies
# a fraction t of the way from red to NIR, t = (1 - v) * straight + v * leaf, where
# - straight is the band's wavelength position between B04 (665 nm) and B08 (842 nm): a
#   straight line from red to NIR, as bare soil, built-up land and snow show (nearly flat), and
#   water (falling, its NIR below its red);
# - leaf is the red edge of green leaves: B05 still near the red (chlorophyll absorbs), B06
#   most of the way up the edge, B07 nearly on the NIR plateau. Rounded down a little from the
#   real BigEarthNet pixels of T33UUP in June (``bigearthnet_product``; NDVI > 0.8, medians:
#   0.16, 0.77, 0.96), not fitted;
# - v, how green the signature is, rises linearly with its NDVI from 0 at RED_EDGE_NDVI[0]
#   to 1 at RED_EDGE_NDVI[1].
# Of the generated classes, forests and pastures get the leaf shape, the others the line.
RED_EDGE_LEAF = (0.15, 0.70, 0.93)
RED_EDGE_NDVI = (0.45, 0.70)


def red_edge(red: float, nir: float) -> tuple[float, float, float]:
    """Surface reflectance B05, B06, B07 of a signature with ``red`` (B04) and ``nir`` (B08)."""
    wavelength = {b.name: b.center_wavelength for b in BANDS}
    low, high = RED_EDGE_NDVI
    ndvi = (nir - red) / (nir + red)
    green = min(max((ndvi - low) / (high - low), 0.0), 1.0)
    edge = []
    for band, leaf in zip(RED_EDGE_BANDS, RED_EDGE_LEAF, strict=True):
        straight = (wavelength[band] - wavelength["B04"]) / (wavelength["B08"] - wavelength["B04"])
        edge.append(red + ((1 - green) * straight + green * leaf) * (nir - red))
    return edge[0], edge[1], edge[2]


def spectrum(signature: tuple[float, ...]) -> tuple[float, ...]:
    """Surface reflectance of every one of ``BANDS`` (in its order) from a six-band signature
    (``SIGNATURE_BANDS``), the red edge derived by :func:`red_edge`."""
    values = dict(zip(SIGNATURE_BANDS, signature, strict=True))
    values.update(zip(RED_EDGE_BANDS, red_edge(values["B04"], values["B08"]), strict=True))
    return tuple(values[b.name] for b in BANDS)


# Every generated class's surface reflectance in ``BANDS`` order.
SPECTRA: dict[int, tuple[float, ...]] = {c: spectrum(s) for c, s in SIGNATURES.items()}


# A crude atmosphere for L1C: top-of-atmosphere = surface + this path reflectance per band
# (``BANDS`` order: B02, B03, B04, B05, B06, B07, B08, B11, B12), strongest in the blue like
# haze and falling with wavelength. Made up, not a radiative model.
TOA_PATH = (0.035, 0.025, 0.015, 0.012, 0.011, 0.010, 0.008, 0.004, 0.002)


@dataclass(frozen=True)
class ToaBand:
    """A band only L1C products carry here: the four more s2cloudless reads.

    Its surface reflectance is mixed from other bands' surfaces (``mix``: (band, weight)
    pairs), so parcels, land-cover changes and their brightness carry over; at the top of the
    atmosphere the surface is seen through ``transmittance`` (water vapour at 945 nm, almost
    nothing at 1375 nm where only high clouds show), plus ``path``; a thick cloud reflects
    ``cloud``. Made-up values of the right order, not a radiative model.
    """

    band: SpectralBand
    mix: tuple[tuple[str, float], ...]
    transmittance: float
    path: float
    cloud: float


TOA_BANDS = (
    ToaBand(SpectralBand("B01", "coastal", "coastal", 0.443, 0.027, 60,
                         "Coastal aerosol (band 1) - 60m"),
            (("B02", 1.05),), 1.0, 0.055, 0.64),
    ToaBand(SpectralBand("B8A", "nir08", "nir08", 0.865, 0.033, 20, "NIR 2 (band 8A) - 20m"),
            (("B08", 1.03),), 1.0, 0.006, 0.62),
    ToaBand(SpectralBand("B09", "nir09", "nir09", 0.945, 0.026, 60,
                         "Water vapour (band 9) - 60m"),
            (("B08", 0.98),), 0.45, 0.002, 0.40),
    ToaBand(SpectralBand("B10", "cirrus", "cirrus", 1.375, 0.075, 60,
                         "SWIR cirrus (band 10) - 60m"),
            (("B11", 0.5), ("B12", 0.5)), 0.01, 0.0015, 0.12),
)
TOA_BAND_NAMES = tuple(t.band.name for t in TOA_BANDS)
# Processing baselines: 04.00 (January 2022) introduced the -1000 DN offset.
BASELINE_WITH_OFFSET = "04.00"


def dn_offset(baseline: str) -> float:
    """The reflectance offset of products of ``baseline`` (-0.1 from 04.00, else 0)."""
    return DN_OFFSET if baseline >= BASELINE_WITH_OFFSET else 0.0


def reflectance_from_dn(dn: np.ndarray, offset: float = DN_OFFSET) -> np.ndarray:
    """Reflectance (float32) from DNs of a product with ``offset``; nodata (0) becomes NaN."""
    reflectance = dn.astype(np.float32) * np.float32(DN_SCALE) + np.float32(offset)
    reflectance[dn == DN_NODATA] = np.nan
    return reflectance


def to_dn(reflectance: np.ndarray, offset: float = DN_OFFSET) -> np.ndarray:
    """DNs of a product with reflectance ``offset`` (-0.1: baseline >= 04.00); overwrites
    ``reflectance``."""
    reflectance *= np.float32(1 / DN_SCALE)
    np.rint(reflectance, out=reflectance)
    reflectance -= np.float32(round(offset / DN_SCALE))
    np.clip(reflectance, 1, np.iinfo(np.uint16).max, out=reflectance)
    return reflectance.astype(np.uint16)
