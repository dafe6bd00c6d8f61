"""Generated Sentinel-2 L2A sample products with ground truth. NOT real Sentinel-2 data.

Nothing can be downloaded here, so tests and demos need products that look and read like real
ones. ``make_sample_product`` writes one into ``out_dir/<product id>/``, laid out like an item of
earth-search v1's ``sentinel-2-l2a`` collection: one COG per band (``B02.tif`` ... ``SCL.tif``)
and a STAC item JSON with relative asset hrefs and the usual ``eo``/``proj``/``raster``/``mgrs``/
``grid``/``s2`` fields. Beside the bands, ``truth_landcover.tif`` holds the land cover the pixels
were drawn from (CORINE Land Cover grid codes) as the item's ``truth`` asset. Every item carries
``earthsignature:generated: true``.

What is real: the tiling grid (the tile's UTM CRS, upper-left corner and footprint, from
``ingest.s2grid``), the file layout, the DN encoding of processing baseline 05.10
(``DN = reflectance * 10000 + 1000``, scale 0.0001, offset -0.1, nodata 0) and the SCL class
values. What is made up: everything the pixels show.

- Land cover: a two-level Voronoi mosaic in coordinates bent by smooth noise (so that edges wander
  like natural boundaries). Large cells (~2 km) are landscapes - farmland, forest, town, lake,
  mountain - and small cells (~560 m, the scale of CLC's 25 ha minimum mapping unit) are parcels
  drawn from their landscape's class mix; neighbouring parcels of one class merge into regions of
  roughly 50-400 px. Two blobs, one of water (512) and one of broad-leaved forest (311), are
  always added: each keeps a disk of 152 px across (less only below ~500 px) so that tests
  always find interior pixels of both. Labels are drawn on the 20 m grid, so every 20 m pixel
  is pure.
- Reflectance: a per-class summer signature (``SIGNATURES``), scaled per parcel by a brightness
  factor (+-10 %) and a per-band factor (+-2 %), times per-pixel Gaussian noise (2.5 %). The
  signatures keep brightness, NDWI and NDVI well clear of the thresholds of the spectral
  reference model (see ``tests/ingest/test_samples.py``).
- Clouds (``cloud_cover`` > 0, in percent): smooth noise thresholded to the wanted share,
  blended over the surface with a soft edge; SCL 9, 8 and 10 by decreasing opacity. Thick clouds
  cast shadows (SCL 3, surface darkened) displaced away from the sun. The truth stays the land
  cover under clouds and shadows: it says what is on the ground, and users mask with SCL.

A product is a pure function of (tile, date, size, seed, cloud_cover): the seed defaults to one
derived from tile and date, and separate random streams keep land cover and band noise the same
whatever the cloud cover.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pystac
from pystac.extensions.classification import Classification, ClassificationExtension
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.grid import GridExtension
from pystac.extensions.mgrs import MgrsExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension

from catalog_schemas import clc
from catalog_schemas.collections import classification_classes
from ingest.cog import write_cog
from ingest.s2grid import TileGrid, TileWindow, tile_grid

MAX_SIZE = 10980
BASE_RESOLUTION = 10

# Processing baseline >= 04.00: DN = reflectance / scale - offset / scale, 0 is nodata.
DN_SCALE = 0.0001
DN_OFFSET = -0.1
DN_NODATA = 0
PROCESSING_BASELINE = "05.10"
PRODUCT_TYPE = "S2MSI2A"

TRUTH_FILE = "truth_landcover.tif"
TRUTH_ASSET = "truth"
SCL_ASSET = "scl"

EXTENSION_URIS = (
    "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    "https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json",
)

S2A_LAUNCH = dt.date(2015, 6, 23)
S2B_IN_SERVICE = dt.date(2017, 7, 6)
S2C_REPLACES_S2B = dt.date(2025, 1, 21)


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


BANDS = (
    SpectralBand("B02", "blue", "blue", 0.49, 0.098, 10, "Blue (band 2) - 10m"),
    SpectralBand("B03", "green", "green", 0.56, 0.045, 10, "Green (band 3) - 10m"),
    SpectralBand("B04", "red", "red", 0.665, 0.038, 10, "Red (band 4) - 10m"),
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

# Landscapes: (share of landscape cells, class mix of their parcels).
LANDSCAPES: tuple[tuple[float, dict[int, float]], ...] = (
    (0.42, {211: 0.55, 231: 0.33, 112: 0.04, 311: 0.08}),  # farmland
    (0.30, {311: 0.55, 312: 0.33, 231: 0.12}),  # forest
    (0.08, {112: 0.75, 231: 0.15, 211: 0.10}),  # town
    (0.08, {512: 1.0}),  # lake
    (0.12, {312: 0.45, 335: 0.30, 231: 0.25}),  # mountain
)
LANDSCAPE_CELL = 200.0  # 10 m pixels
PARCEL_CELL = 64.0
WARP_OCTAVES = ((256.0, 40.0), (64.0, 10.0))  # (noise spacing, displacement) in 10 m pixels
ANCHOR_CLASSES = (512, 311)
ANCHOR_CORE = 76.0  # radius of the disk always kept, in 10 m pixels
ANCHOR_WOBBLE, ANCHOR_WOBBLE_CELL = 0.25, 48.0  # relative radius change, its noise spacing

CLOUD_REFLECTANCE = (0.62, 0.60, 0.60, 0.62, 0.45, 0.32)
CLOUD_OCTAVES = ((640.0, 1.0), (200.0, 0.5), (64.0, 0.25))
CLOUD_EDGE = 0.3  # noise units from the cloud's edge to full opacity
CLOUD_MEDIUM, CLOUD_HIGH = 0.3, 0.6  # opacity thresholds of SCL 8 and 9; below: SCL 10
SHADOW_DIMMING = 0.7  # shadows keep 30 % of the light

ROW_CHUNK = 512  # rows per slice when filling large rasters (bounds temporary memory)

_STREAMS = ("landcover", "clouds", "datetime", *BAND_NAMES)


# --------------------------------------------------------------------------------- the product


def make_sample_product(
    tile: str,
    date: dt.date,
    size: int,
    out_dir: Path,
    *,
    seed: int | None = None,
    cloud_cover: float = 0.0,
) -> Path:
    """Generate a sample L2A product of ``size`` x ``size`` 10 m pixels; return its item's path.

    The product covers the crop from the tile's upper-left corner. ``cloud_cover`` is the
    wanted cloud share in percent; the item's ``eo:cloud_cover`` is the share actually drawn.
    """
    scene = generate_scene(tile, date, size, seed=seed, cloud_cover=cloud_cover)
    folder = Path(out_dir) / scene.product_id
    scl = scene.scl()
    _write_rasters(scene, scl, folder)
    item = _build_item(scene, scl)
    return _write_json(item.to_dict(include_self_link=False, transform_hrefs=False),
                       folder / f"{scene.product_id}.json")


def generate_scene(
    tile: str,
    date: dt.date,
    size: int,
    *,
    seed: int | None = None,
    cloud_cover: float = 0.0,
) -> SampleScene:
    """The arrays of a sample product, without writing anything (bands rendered on demand)."""
    _check_size(size)
    _check_cloud_cover(cloud_cover)
    date = _check_date(date)
    grid = tile_grid(tile)
    seed = default_seed(grid.tile_id, date) if seed is None else _check_seed(seed)
    streams = dict(zip(_STREAMS, np.random.SeedSequence(seed).spawn(len(_STREAMS)), strict=True))
    n20 = math.ceil(size / 2)
    land = _land_cover(np.random.default_rng(streams["landcover"]), n20)
    latitude = grid.footprint.centroid.y
    clouds = _clouds(np.random.default_rng(streams["clouds"]), 2 * n20, cloud_cover, latitude,
                     date)
    return SampleScene(grid=grid, date=date, size=size, seed=seed, land=land, clouds=clouds,
                       streams=streams)


def default_seed(tile_id: str, date: dt.date) -> int:
    """A seed that depends only on tile and date: re-running gives the same product.

    48 bits, so that the item's ``earthsignature:seed`` is exact in any JSON reader.
    """
    digest = hashlib.sha256(f"{tile_id}:{date.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def platform_of(tile_id: str, date: dt.date) -> str:
    """Which satellite a generated product is attributed to, deterministically.

    Each satellite passes over a tile every 10 days and the two in service fly half a cycle
    apart, so the platform alternates every 5 days; S2C took over from S2B in January 2025.
    """
    if date < S2B_IN_SERVICE:
        return "sentinel-2a"
    phase = int(hashlib.sha256(tile_id.encode()).hexdigest(), 16) % 10
    if (date.toordinal() + phase) // 5 % 2 == 0:
        return "sentinel-2a"
    return "sentinel-2c" if date >= S2C_REPLACES_S2B else "sentinel-2b"


def product_id_of(tile_id: str, date: dt.date) -> str:
    """The earth-search v1 item id, like ``S2A_31TCJ_20240701_0_L2A``."""
    unit = platform_of(tile_id, date)[-1].upper()
    return f"S2{unit}_{tile_id}_{date:%Y%m%d}_0_L2A"


def reflectance_from_dn(dn: np.ndarray) -> np.ndarray:
    """Surface reflectance (float32) from L2A DNs; nodata (0) becomes NaN."""
    reflectance = dn.astype(np.float32) * np.float32(DN_SCALE) + np.float32(DN_OFFSET)
    reflectance[dn == DN_NODATA] = np.nan
    return reflectance


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise ValueError(f"size must be a whole number of pixels, got {size!r}")
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"size {size} is out of range: 1 to {MAX_SIZE} pixels (one tile)")


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_cloud_cover(cloud_cover: float) -> None:
    if not 0.0 <= cloud_cover <= 100.0:
        raise ValueError(f"cloud_cover {cloud_cover} is out of range: 0 to 100 percent")


def _check_date(date: dt.date) -> dt.date:
    day = date.date() if isinstance(date, dt.datetime) else date
    if day < S2A_LAUNCH:
        raise ValueError(f"date {day} is before Sentinel-2 began ({S2A_LAUNCH})")
    return day


# ----------------------------------------------------------------------------- the scene arrays


@dataclass(frozen=True)
class _LandCover:
    """The parcels of the scene, their classes and their reflectance variation."""

    labels: np.ndarray  # (n20, n20) int32 parcel index on the 20 m grid
    parcel_class: np.ndarray  # (parcels,) index into CLASSES
    parcel_gain: np.ndarray  # (parcels, bands) float32 reflectance factors


@dataclass(frozen=True)
class _Clouds:
    """Cloud opacity and shadows on the 10 m grid, and what the 20 m bands and SCL see of them."""

    alpha: np.ndarray  # (n10, n10) float32 opacity 0-1 on the (padded) 10 m grid
    shadow: np.ndarray  # (n10, n10) bool, in a cloud's shadow and not under a cloud
    alpha20: np.ndarray  # (n20, n20) float32 mean opacity of each 20 m pixel
    shadow20: np.ndarray  # (n20, n20) float32 shadowed share of each 20 m pixel
    scl: np.ndarray  # (n20, n20) uint8 SCL cloud classes, 0 where clear

    @classmethod
    def from_layers(cls, alpha: np.ndarray, shadow: np.ndarray) -> _Clouds:
        # A 20 m SCL pixel is clear only if all four 10 m pixels are: clear SCL means clear.
        alpha_max = _block_reduce(alpha, np.maximum)
        scl = np.where(_block_reduce(shadow, np.logical_or), Scl.CLOUD_SHADOWS, 0)
        scl = scl.astype(np.uint8)
        scl[alpha_max > 0] = Scl.THIN_CIRRUS
        scl[alpha_max >= CLOUD_MEDIUM] = Scl.CLOUD_MEDIUM_PROBABILITY
        scl[alpha_max >= CLOUD_HIGH] = Scl.CLOUD_HIGH_PROBABILITY
        alpha20 = _block_reduce(alpha, np.add)
        alpha20 *= np.float32(0.25)
        shadow20 = _block_reduce(shadow.view(np.uint8), np.add).astype(np.float32)
        shadow20 *= np.float32(0.25)
        return cls(alpha, shadow, alpha20, shadow20, scl)


@dataclass(frozen=True)
class SampleScene:
    """A generated scene on the upper-left crop of a tile; bands are rendered on demand."""

    grid: TileGrid
    date: dt.date
    size: int
    seed: int
    land: _LandCover
    clouds: _Clouds | None
    streams: dict[str, np.random.SeedSequence]

    @property
    def product_id(self) -> str:
        return product_id_of(self.grid.tile_id, self.date)

    @property
    def platform(self) -> str:
        return platform_of(self.grid.tile_id, self.date)

    def window(self, resolution: float) -> TileWindow:
        return self.grid.window(self.size * BASE_RESOLUTION, resolution)

    def truth(self) -> np.ndarray:
        """(size, size) uint8 CLC grid codes at 10 m: the land cover, under clouds too."""
        codes = np.array([clc.grid_code_of(c) for c in CLASSES], dtype=np.uint8)
        per_parcel = codes[self.land.parcel_class]
        return _upsample2(per_parcel[self.land.labels])[: self.size, : self.size]

    def scl(self) -> np.ndarray:
        """(size20, size20) uint8 scene classification at 20 m."""
        per_class = np.array([CLASS_SCL[c] for c in CLASSES], dtype=np.uint8)
        scl = per_class[self.land.parcel_class][self.land.labels]
        if self.clouds is not None:
            np.copyto(scl, self.clouds.scl, where=self.clouds.scl > 0)
        return scl

    def dn(self, band: str) -> np.ndarray:
        """uint16 DNs of ``band`` (``B02``...) at its own resolution; the same on every call."""
        index = BAND_NAMES.index(band)
        rng = np.random.default_rng(self.streams[band])
        if BANDS[index].resolution == BASE_RESOLUTION:
            reflectance = self._reflectance_10m(index, rng)[: self.size, : self.size]
        else:
            reflectance = self._reflectance_20m(index, rng)
        return _to_dn(reflectance)

    def _surface(self, band_index: int) -> np.ndarray:
        """(n20, n20) float32 reflectance of each 20 m pixel's parcel, before noise and clouds."""
        signature = np.array([SIGNATURES[c][band_index] for c in CLASSES], dtype=np.float32)
        per_parcel = signature[self.land.parcel_class] * self.land.parcel_gain[:, band_index]
        return per_parcel[self.land.labels]

    def _reflectance_10m(self, band_index: int, rng: np.random.Generator) -> np.ndarray:
        reflectance = _upsample2(self._surface(band_index))
        _add_noise(reflectance, rng)
        if self.clouds is not None:
            np.multiply(reflectance, np.float32(1 - SHADOW_DIMMING), out=reflectance,
                        where=self.clouds.shadow)
            _blend(reflectance, self.clouds.alpha, CLOUD_REFLECTANCE[band_index])
        return reflectance

    def _reflectance_20m(self, band_index: int, rng: np.random.Generator) -> np.ndarray:
        reflectance = self._surface(band_index)
        _add_noise(reflectance, rng)
        if self.clouds is not None:
            # A 20 m pixel sees the mean of its four 10 m pixels' shadows and clouds.
            reflectance *= 1 - np.float32(SHADOW_DIMMING) * self.clouds.shadow20
            _blend(reflectance, self.clouds.alpha20, CLOUD_REFLECTANCE[band_index])
        return reflectance


def _add_noise(reflectance: np.ndarray, rng: np.random.Generator) -> None:
    """Multiply by 1 + N(0, PIXEL_NOISE), in place."""
    noise = rng.standard_normal(reflectance.shape, np.float32)
    noise *= np.float32(PIXEL_NOISE)
    noise += 1
    reflectance *= noise


def _blend(reflectance: np.ndarray, alpha: np.ndarray, cloud: float) -> None:
    """Lay a cloud of opacity ``alpha`` over the surface, in place."""
    veil = np.subtract(np.float32(cloud), reflectance)
    veil *= alpha
    reflectance += veil


def _to_dn(reflectance: np.ndarray) -> np.ndarray:
    """L2A DNs (baseline >= 04.00) from reflectance; overwrites ``reflectance``."""
    reflectance *= np.float32(1 / DN_SCALE)
    np.rint(reflectance, out=reflectance)
    reflectance -= np.float32(DN_OFFSET / DN_SCALE)
    np.clip(reflectance, 1, np.iinfo(np.uint16).max, out=reflectance)
    return reflectance.astype(np.uint16)


def _upsample2(array: np.ndarray) -> np.ndarray:
    """20 m -> 10 m: each pixel becomes a 2 x 2 block."""
    rows, cols = array.shape
    out = np.empty((2 * rows, 2 * cols), dtype=array.dtype)
    out.reshape(rows, 2, cols, 2)[...] = array[:, None, :, None]
    return out


def _block_reduce(array: np.ndarray, combine: np.ufunc) -> np.ndarray:
    """10 m -> 20 m: ``combine`` the four pixels of each 2 x 2 block (the array's sides even)."""
    top = combine(array[0::2, 0::2], array[0::2, 1::2])
    top = combine(top, array[1::2, 0::2], out=top)
    return combine(top, array[1::2, 1::2], out=top)


def _by_rows(fill: Callable[[int, int], np.ndarray], shape: tuple[int, int],
             dtype: type) -> np.ndarray:
    """An array filled slice by slice of rows, so temporaries stay small on a full tile."""
    out = np.empty(shape, dtype)
    for start in range(0, shape[0], ROW_CHUNK):
        stop = min(start + ROW_CHUNK, shape[0])
        out[start:stop] = fill(start, stop)
    return out


# ---------------------------------------------------------------------------------- noise


@dataclass(frozen=True)
class _ValueNoise:
    """Smooth noise in [-1, 1]: random values on a lattice, interpolated with smoothstep."""

    lattice: np.ndarray
    spacing: float

    @classmethod
    def random(cls, rng: np.random.Generator, extent: float, spacing: float) -> _ValueNoise:
        n = math.ceil(extent / spacing) + 2
        return cls(rng.uniform(-1.0, 1.0, (n, n)).astype(np.float32), spacing)

    def sample(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Noise on the grid ``ys`` x ``xs`` (1-D coordinates in 10 m pixels, 0 to extent)."""
        iy, ty = _cell_weights(ys, self.spacing)
        ix, tx = _cell_weights(xs, self.spacing)
        # Interpolate along x on the small lattice first: two large gathers instead of four.
        along_x = self.lattice[:, ix] * (1 - tx) + self.lattice[:, ix + 1] * tx
        return along_x[iy] * (1 - ty)[:, None] + along_x[iy + 1] * ty[:, None]


def _cell_weights(coords: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    position = np.asarray(coords, dtype=np.float64) / spacing
    cell = np.floor(position).astype(np.intp)
    t = position - cell
    return cell, (t * t * (3 - 2 * t)).astype(np.float32)


@dataclass(frozen=True)
class _Warp:
    """A smooth displacement field that bends straight Voronoi edges into natural boundaries."""

    octaves: tuple[tuple[_ValueNoise, _ValueNoise, float], ...]

    @classmethod
    def random(cls, rng: np.random.Generator, extent: float) -> _Warp:
        return cls(tuple(
            (_ValueNoise.random(rng, extent, spacing), _ValueNoise.random(rng, extent, spacing),
             amplitude)
            for spacing, amplitude in WARP_OCTAVES
        ))

    def apply(self, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Warped coordinates (qy, qx) of the grid ``ys`` x ``xs``."""
        qy = np.repeat(ys[:, None].astype(np.float32), len(xs), axis=1)
        qx = np.repeat(xs[None, :].astype(np.float32), len(ys), axis=0)
        for noise_y, noise_x, amplitude in self.octaves:
            qy += amplitude * noise_y.sample(ys, xs)
            qx += amplitude * noise_x.sample(ys, xs)
        return qy, qx

    @property
    def reach(self) -> float:
        """The largest displacement, in 10 m pixels."""
        return sum(amplitude for _, _, amplitude in self.octaves) * math.sqrt(2)


# ---------------------------------------------------------------------------------- land cover


@dataclass(frozen=True)
class _SeedGrid:
    """Voronoi seeds, one anywhere in each cell of a square grid (a stratified random pattern).

    The nearest seed of a point is always one of the 5 x 5 around its own cell (its own seed is
    at most 1.42 cells away, any other at least 2), so the search is exact and vectorised.
    """

    cell: float
    origin: float
    sy: np.ndarray
    sx: np.ndarray

    @classmethod
    def random(cls, rng: np.random.Generator, extent: float, cell: float,
               margin: float) -> _SeedGrid:
        # Seeds beyond the image catch points that the warp moves outside it.
        origin = -(margin + 2 * cell)
        n = math.ceil((extent - 2 * origin) / cell) + 1
        corners = origin + np.arange(n) * cell
        offsets = rng.uniform(0.0, cell, (2, n, n))
        sy = (corners[:, None] + offsets[0]).astype(np.float32).ravel()
        sx = (corners[None, :] + offsets[1]).astype(np.float32).ravel()
        return cls(cell, origin, sy, sx)

    @property
    def side(self) -> int:
        return math.isqrt(self.sy.size)

    def nearest(self, qy: np.ndarray, qx: np.ndarray) -> np.ndarray:
        """Flat index of the seed nearest to each point (same shape as ``qy``)."""
        n = self.side
        ci = np.clip(((qy - self.origin) // self.cell).astype(np.intp), 2, n - 3)
        cj = np.clip(((qx - self.origin) // self.cell).astype(np.intp), 2, n - 3)
        own = ci * n + cj
        best = np.full(qy.shape, np.inf, dtype=np.float32)
        index = np.zeros(qy.shape, dtype=np.intp)
        for di in range(-2, 3):
            for dj in range(-2, 3):
                candidate = own + (di * n + dj)
                distance = (qy - self.sy.take(candidate)) ** 2
                distance += (qx - self.sx.take(candidate)) ** 2
                closer = distance < best
                np.copyto(best, distance, where=closer)
                np.copyto(index, candidate, where=closer)
        return index


@dataclass(frozen=True)
class _Anchor:
    """A blob forced to one class, so that every scene has a large interior of that class."""

    parcel: int
    cy: float  # centre, 10 m pixels
    cx: float
    qy: float  # the centre in warped coordinates
    qx: float
    radius: float  # of the blob, in warped coordinates
    core: float  # of the disk always kept, in pixels


@dataclass(frozen=True)
class _Mosaic:
    """Everything that decides the parcel of a point: warp, parcel seeds and anchor blobs."""

    warp: _Warp
    parcels: _SeedGrid
    anchors: tuple[_Anchor, ...]
    wobble: _ValueNoise  # bends the anchors' outlines from circles into lobed shapes

    def label_rows(self, start: int, stop: int, n20: int) -> np.ndarray:
        """Parcel index of the 20 m rows ``start:stop`` (coordinates: 20 m pixel centres)."""
        ys = 2.0 * np.arange(start, stop) + 1.0
        xs = 2.0 * np.arange(n20) + 1.0
        qy, qx = self.warp.apply(ys, xs)
        labels = self.parcels.nearest(qy, qx).astype(np.int32)
        stretch = 1 + ANCHOR_WOBBLE * self.wobble.sample(ys, xs)
        for a in self.anchors:
            blob = (qy - a.qy) ** 2 + (qx - a.qx) ** 2 < (a.radius * stretch) ** 2
            labels[blob] = a.parcel
        # The unwarped cores last: whatever the noise did, each keeps its full disk.
        for a in self.anchors:
            core = (ys[:, None] - a.cy) ** 2 + (xs[None, :] - a.cx) ** 2 < a.core**2
            labels[core] = a.parcel
        return labels


def _land_cover(rng: np.random.Generator, n20: int) -> _LandCover:
    extent = 2.0 * n20
    warp = _Warp.random(rng, extent)
    landscapes = _SeedGrid.random(rng, extent, LANDSCAPE_CELL, warp.reach)
    parcels = _SeedGrid.random(rng, extent, PARCEL_CELL, warp.reach)
    weights = np.array([share for share, _ in LANDSCAPES])
    landscape = rng.choice(len(LANDSCAPES), size=landscapes.sy.size, p=weights / weights.sum())
    # A parcel belongs to the landscape whose cell holds its seed.
    parcel_landscape = landscape[landscapes.nearest(parcels.sy, parcels.sx)]
    parcel_class = _draw_classes(rng, parcel_landscape)
    anchors = _anchors(rng, extent, warp, first_parcel=parcels.sy.size)
    anchor_class = [CLASSES.index(c) for c in ANCHOR_CLASSES]
    parcel_class = np.concatenate([parcel_class, anchor_class]).astype(np.intp)
    mosaic = _Mosaic(warp, parcels, anchors, _ValueNoise.random(rng, extent, ANCHOR_WOBBLE_CELL))
    labels = _by_rows(lambda a, b: mosaic.label_rows(a, b, n20), (n20, n20), np.int32)
    return _LandCover(labels, parcel_class, _parcel_gains(rng, len(parcel_class)))


def _draw_classes(rng: np.random.Generator, landscape: np.ndarray) -> np.ndarray:
    """A class per parcel, drawn from its landscape's class mix (vectorised inverse CDF)."""
    mix = np.array([[m.get(c, 0.0) for c in CLASSES] for _, m in LANDSCAPES])
    cumulative = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)[landscape]
    draw = rng.random(len(landscape))[:, None]
    return np.minimum((draw > cumulative).sum(axis=1), len(CLASSES) - 1)


def _anchors(rng: np.random.Generator, extent: float, warp: _Warp,
             first_parcel: int) -> tuple[_Anchor, ...]:
    """The water and broad-leaved blobs: placed far apart, cores inside the image."""
    core = min(ANCHOR_CORE, extent / 6.5)
    low, high = core + 2.0, max(core + 2.0, extent - core - 2.0)
    first = rng.uniform(low, high, 2)
    # The corner of the allowed square farthest from the first blob keeps the cores apart.
    corners = np.array([[low, low], [low, high], [high, low], [high, high]])
    second = corners[np.argmax(((corners - first) ** 2).sum(axis=1))]
    anchors = []
    for k, (cy, cx) in enumerate((first, second)):
        qy, qx = warp.apply(np.array([cy]), np.array([cx]))
        radius = core * rng.uniform(1.7, 2.0)
        anchors.append(_Anchor(first_parcel + k, float(cy), float(cx), float(qy[0, 0]),
                               float(qx[0, 0]), radius, core))
    return tuple(anchors)


def _parcel_gains(rng: np.random.Generator, count: int) -> np.ndarray:
    brightness = rng.uniform(1 - REGION_BRIGHTNESS, 1 + REGION_BRIGHTNESS, (count, 1))
    per_band = rng.uniform(1 - REGION_BAND_JITTER, 1 + REGION_BAND_JITTER, (count, len(BANDS)))
    return (brightness * per_band).astype(np.float32)


# ---------------------------------------------------------------------------------- clouds


def _clouds(rng: np.random.Generator, n10: int, cloud_cover: float, latitude: float,
            date: dt.date) -> _Clouds | None:
    if cloud_cover <= 0:
        return None
    octaves = [(_ValueNoise.random(rng, n10, spacing), weight)
               for spacing, weight in CLOUD_OCTAVES]
    centres = np.arange(n10) + 0.5
    alpha = _by_rows(lambda a, b: _cloud_field(octaves, centres[a:b], centres),
                     (n10, n10), np.float32)
    alpha -= _cloud_level(alpha, cloud_cover)
    alpha /= CLOUD_EDGE
    np.clip(alpha, 0, 1, out=alpha)
    drow, dcol = _shadow_offset(rng, latitude, date)
    shadow = _shift(alpha >= CLOUD_MEDIUM, drow, dcol) & (alpha == 0)
    return _Clouds.from_layers(alpha, shadow)


def _cloud_level(field: np.ndarray, cloud_cover: float) -> float:
    """The noise level that leaves ``cloud_cover`` percent of ``field`` above it."""
    if cloud_cover >= 100:
        return -math.inf  # overcast: opaque everywhere
    # On a full tile a sparse sample estimates the quantile well enough, four times faster.
    sample = field[::4, ::4] if field.size > 4_000_000 else field
    return float(np.quantile(sample, 1 - cloud_cover / 100))


def _cloud_field(octaves: list[tuple[_ValueNoise, float]], ys: np.ndarray,
                 xs: np.ndarray) -> np.ndarray:
    field = np.zeros((len(ys), len(xs)), dtype=np.float32)
    for noise, weight in octaves:
        field += weight * noise.sample(ys, xs)
    return field


def _shadow_offset(rng: np.random.Generator, latitude: float,
                   date: dt.date) -> tuple[int, int]:
    """Rows and columns from a cloud to its shadow, from the sun's height and a cloud height."""
    declination = 23.44 * math.sin(2 * math.pi * (284 + date.timetuple().tm_yday) / 365)
    # Late morning: the sun stands a little lower than at noon.
    zenith = min(max(abs(latitude - declination) + 12.0, 20.0), 75.0)
    distance = rng.uniform(800.0, 2500.0) * math.tan(math.radians(zenith)) / BASE_RESOLUTION
    # The sun is in the south-east before noon (north-east south of the equator); the shadow
    # falls the other way. Rows grow southward.
    azimuth = math.radians(150.0 if latitude >= 0 else 30.0)
    return round(distance * math.cos(azimuth)), round(-distance * math.sin(azimuth))


def _shift(mask: np.ndarray, drow: int, dcol: int) -> np.ndarray:
    """``mask`` moved by (drow, dcol) pixels; what comes in from outside is False."""
    out = np.zeros_like(mask)
    rows, cols = mask.shape
    if abs(drow) >= rows or abs(dcol) >= cols:
        return out
    out[max(drow, 0): rows + min(drow, 0), max(dcol, 0): cols + min(dcol, 0)] = \
        mask[max(-drow, 0): rows + min(-drow, 0), max(-dcol, 0): cols + min(-dcol, 0)]
    return out


# ---------------------------------------------------------------------------------- files


def _write_rasters(scene: SampleScene, scl: np.ndarray, folder: Path) -> None:
    """One COG per band, SCL and truth; one band at a time to bound memory."""
    crs = scene.grid.crs
    tags = {"EARTHSIGNATURE_GENERATED": "true", "PRODUCT_ID": scene.product_id}
    for band in BANDS:
        write_cog(scene.dn(band.name), folder / band.file_name, crs=crs,
                  transform=scene.window(band.resolution).transform, nodata=DN_NODATA,
                  categorical=False, tags={**tags, "BAND": band.name})
    write_cog(scl, folder / "SCL.tif", crs=crs, transform=scene.window(20).transform,
              nodata=Scl.NO_DATA, categorical=True, tags={**tags, "BAND": "SCL"})
    write_cog(scene.truth(), folder / TRUTH_FILE, crs=crs, transform=scene.window(10).transform,
              nodata=clc.NODATA, categorical=True, colormap=clc.colormap(),
              tags={**tags, "CONTENT": "generated ground truth, CORINE Land Cover grid codes"})


def _write_json(document: dict, path: Path) -> Path:
    """Write atomically and last: a reader that finds the item finds a complete product."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".json", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2)
        tmp.chmod(0o644)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


# ---------------------------------------------------------------------------------- STAC item


def _build_item(scene: SampleScene, scl: np.ndarray) -> pystac.Item:
    footprint = scene.grid.window_footprint(scene.size * BASE_RESOLUTION)
    item = pystac.Item(
        id=scene.product_id,
        geometry=_rounded(footprint.__geo_interface__),
        bbox=[round(v, 8) for v in footprint.bounds],
        datetime=_acquisition_time(scene),
        properties={},
    )
    item.common_metadata.platform = scene.platform
    item.common_metadata.constellation = "sentinel-2"
    item.common_metadata.instruments = ["msi"]
    EOExtension.ext(item, add_if_missing=True).cloud_cover = _cloud_percentage(scl)
    ProjectionExtension.ext(item, add_if_missing=True).code = scene.grid.crs
    MgrsExtension.ext(item, add_if_missing=True).apply(
        latitude_band=scene.grid.latitude_band, grid_square=scene.grid.grid_square,
        utm_zone=scene.grid.utm_zone)
    GridExtension.ext(item, add_if_missing=True).code = scene.grid.grid_code
    item.properties.update(_s2_properties(scene, scl))
    item.stac_extensions.extend(EXTENSION_URIS)
    for band in BANDS:
        item.add_asset(band.asset, _band_asset(scene, band))
    item.add_asset(SCL_ASSET, _scl_asset(scene))
    item.add_asset(TRUTH_ASSET, _truth_asset(scene))
    # Asset-level extensions must be declared on the item too.
    RasterExtension.add_to(item)
    ClassificationExtension.add_to(item)
    return item


def _acquisition_time(scene: SampleScene) -> dt.datetime:
    """Late morning local solar time, as Sentinel-2 passes (10:56 UTC over 31TCJ)."""
    longitude = scene.grid.footprint.centroid.x
    seconds = 11 * 3600 - longitude * 240 + np.random.default_rng(
        scene.streams["datetime"]).uniform(-30, 30)
    midnight = dt.datetime.combine(scene.date, dt.time(), tzinfo=dt.UTC)
    return midnight + dt.timedelta(microseconds=round(seconds * 1e3) * 1000)


def _s2_properties(scene: SampleScene, scl: np.ndarray) -> dict:
    return {
        "s2:processing_baseline": PROCESSING_BASELINE,
        "s2:product_type": PRODUCT_TYPE,
        **_scl_percentages(scl),
        "processing:software": {"earthsignature": _software_version()},
        "earthsignature:generated": True,
        "earthsignature:seed": scene.seed,
    }


def _scl_percentages(scl: np.ndarray) -> dict[str, float]:
    """The ``s2:*_percentage`` properties that earth-search derives from the SCL."""
    share = np.bincount(scl.ravel(), minlength=len(Scl)) * (100.0 / scl.size)
    names = {
        "nodata_pixel": (Scl.NO_DATA,), "saturated_defective_pixel": (Scl.SATURATED_OR_DEFECTIVE,),
        "dark_features": (Scl.DARK_AREA_PIXELS,), "cloud_shadow": (Scl.CLOUD_SHADOWS,),
        "vegetation": (Scl.VEGETATION,), "not_vegetated": (Scl.NOT_VEGETATED,),
        "water": (Scl.WATER,), "unclassified": (Scl.UNCLASSIFIED,),
        "medium_proba_clouds": (Scl.CLOUD_MEDIUM_PROBABILITY,),
        "high_proba_clouds": (Scl.CLOUD_HIGH_PROBABILITY,), "thin_cirrus": (Scl.THIN_CIRRUS,),
        "snow_ice": (Scl.SNOW,),
    }
    return {f"s2:{name}_percentage": round(float(share[list(values)].sum()), 6)
            for name, values in names.items()}


def _cloud_percentage(scl: np.ndarray) -> float:
    """``eo:cloud_cover`` as earth-search computes it: medium, high and cirrus, in percent."""
    return round(float(np.isin(scl, CLOUD_SCL).mean() * 100.0), 6)


def _band_asset(scene: SampleScene, band: SpectralBand) -> pystac.Asset:
    asset = _raster_asset(scene, band.file_name, band.resolution, ["data"], band.title)
    EOExtension.ext(asset).bands = [Band.create(
        name=band.name, common_name=band.common_name, center_wavelength=band.center_wavelength,
        full_width_half_max=band.full_width_half_max,
    )]
    RasterExtension.ext(asset).bands = [RasterBand.create(
        nodata=DN_NODATA, data_type=DataType.UINT16, bits_per_sample=15,
        spatial_resolution=band.resolution, scale=DN_SCALE, offset=DN_OFFSET,
    )]
    return asset


def _scl_asset(scene: SampleScene) -> pystac.Asset:
    asset = _raster_asset(scene, "SCL.tif", 20, ["data"], "Scene classification map (SCL)")
    RasterExtension.ext(asset).bands = [RasterBand.create(
        nodata=Scl.NO_DATA.value, data_type=DataType.UINT8, spatial_resolution=20)]
    ClassificationExtension.ext(asset).classes = [
        Classification.create(value=c.value, name=c.name.lower()) for c in Scl]
    return asset


def _truth_asset(scene: SampleScene) -> pystac.Asset:
    asset = _raster_asset(
        scene, TRUTH_FILE, 10, ["metadata"],
        "Generated ground truth: CORINE Land Cover grid codes the sample was drawn from "
        "(not real data)")
    RasterExtension.ext(asset).bands = [RasterBand.create(
        nodata=clc.NODATA, data_type=DataType.UINT8, spatial_resolution=10)]
    ClassificationExtension.ext(asset).classes = [
        Classification(dict(c)) for c in classification_classes()]
    return asset


def _raster_asset(scene: SampleScene, file_name: str, resolution: int, roles: list[str],
                  title: str) -> pystac.Asset:
    window = scene.window(resolution)
    asset = pystac.Asset(href=f"./{file_name}", media_type=pystac.MediaType.COG, roles=roles,
                         title=title, extra_fields={"gsd": resolution})
    projection = ProjectionExtension.ext(asset)
    projection.shape = list(window.shape)
    projection.transform = list(window.transform)[:6]
    return asset


def _rounded(geometry: dict) -> dict:
    """GeoJSON with coordinates rounded to 1e-8 degree (about 1 mm)."""
    def walk(value: object) -> object:
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return round(float(value), 8)
    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}


def _software_version() -> str:
    try:
        return version("earthsignature")
    except PackageNotFoundError:
        return "unknown"
