"""The arrays of a sample product: land cover, clouds, SCL, truth and bands rendered on demand."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from samples.arrays import upsample2
from samples.changes import Conversion
from samples.clouds import (
    CLOUD_MEDIUM,
    CLOUD_REFLECTANCE,
    SHADOW_DIMMING,
    Clouds,
    draw_clouds,
)
from samples.identity import S2A_LAUNCH, default_seed, platform_of, product_id_of
from samples.landcover import LANDSCAPES, LOWLAND_LANDSCAPES, LandCover, draw_land_cover
from samples.s2grid import Footprint, TileGrid, TileWindow, tile_grid
from samples.spectra import (
    BAND_NAMES,
    BANDS,
    BASE_RESOLUTION,
    CLASS_SCL,
    CLASSES,
    DN_OFFSET,
    PIXEL_NOISE,
    SPECTRA,
    TOA_BAND_NAMES,
    TOA_BANDS,
    TOA_PATH,
    ToaBand,
    to_dn,
)

MAX_SIZE = 10980

# Spawned streams are numbered, so this order is fixed for good and new streams go last: the
# earlier ones, and every product generated before, stay as they were. (B05 was drawn for L1C
# only before the red edges joined the surface bands; it keeps its stream.)
_STREAMS = ("landcover", "clouds", "datetime", "B02", "B03", "B04", "B08", "B11", "B12",
            "B01", "B05", "B8A", "B09", "B10", "B06", "B07")


def generate_scene(
    tile: str,
    date: dt.date,
    size: int,
    *,
    seed: int | None = None,
    cloud_cover: float = 0.0,
    conversions: tuple[Conversion, ...] = (),
    origin_m: tuple[float, float] = (0.0, 0.0),
    landscape_seed: int | None = None,
    lowland: bool = False,
) -> SampleScene:
    """The arrays of a sample product, without writing anything (bands rendered on demand).

    ``conversions`` change the land cover of the scene the seed draws (``samples.changes``):
    the same seed with and without them gives two acquisitions with a known change.
    ``origin_m`` moves the crop (east, south metres from the tile's corner, multiples of 60).
    ``landscape_seed`` draws the land cover from its own seed instead of the product's: the
    same place on every date, while clouds, noise and time follow the product's seed.
    ``lowland`` leaves out the mountain landscape (no glacier or snow, 335).
    """
    _check_size(size)
    _check_cloud_cover(cloud_cover)
    date = _check_date(date)
    grid = tile_grid(tile)
    grid.window(size * BASE_RESOLUTION, BASE_RESOLUTION, origin_m)  # refuses a crop off the tile
    seed = default_seed(grid.tile_id, date) if seed is None else _check_seed(seed)
    streams = dict(zip(_STREAMS, np.random.SeedSequence(seed).spawn(len(_STREAMS)), strict=True))
    if landscape_seed is not None:
        streams["landcover"] = np.random.SeedSequence(_check_seed(landscape_seed))
    n20 = math.ceil(size / 2)
    land = draw_land_cover(np.random.default_rng(streams["landcover"]), n20,
                           LOWLAND_LANDSCAPES if lowland else LANDSCAPES)
    latitude = grid.footprint.centroid.y
    clouds = draw_clouds(np.random.default_rng(streams["clouds"]), 2 * n20, cloud_cover,
                         latitude, date)
    return SampleScene(grid=grid, date=date, size=size, seed=seed, land=land, clouds=clouds,
                       streams=streams, conversions=tuple(conversions),
                       origin_m=(float(origin_m[0]), float(origin_m[1])),
                       landscape_seed=landscape_seed)


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


@dataclass(frozen=True)
class SampleScene:
    """A generated scene on a square crop of a tile (its upper-left one unless ``origin_m``
    moves it); bands are rendered on demand."""

    grid: TileGrid
    date: dt.date
    size: int
    seed: int
    land: LandCover
    clouds: Clouds | None
    streams: dict[str, np.random.SeedSequence]
    conversions: tuple[Conversion, ...] = ()
    origin_m: tuple[float, float] = (0.0, 0.0)  # east, south of the tile's upper-left corner
    landscape_seed: int | None = None  # None: the land cover is drawn from ``seed``

    @property
    def product_id(self) -> str:
        return product_id_of(self.grid.tile_id, self.date)

    @property
    def platform(self) -> str:
        return platform_of(self.grid.tile_id, self.date)

    def window(self, resolution: float) -> TileWindow:
        return self.grid.window(self.size * BASE_RESOLUTION, resolution, self.origin_m)

    def footprint(self) -> Footprint:
        """The crop's lon/lat outline."""
        return self.grid.window_footprint(self.size * BASE_RESOLUTION, origin_m=self.origin_m)

    def truth(self) -> np.ndarray:
        """(size, size) uint8 CLC grid codes at 10 m: the land cover, under clouds too."""
        codes = np.array([clc.grid_code_of(c) for c in CLASSES], dtype=np.uint8)
        per_parcel = codes[self.land.parcel_class]
        truth = per_parcel[self.land.labels]
        for conversion, mask in self._converted():
            truth[mask] = clc.grid_code_of(conversion.to_class)
        return upsample2(truth)[: self.size, : self.size]

    def scl(self) -> np.ndarray:
        """(size20, size20) uint8 scene classification at 20 m."""
        per_class = np.array([CLASS_SCL[c] for c in CLASSES], dtype=np.uint8)
        scl = per_class[self.land.parcel_class][self.land.labels]
        for conversion, mask in self._converted():
            scl[mask] = conversion.scl()
        if self.clouds is not None:
            np.copyto(scl, self.clouds.scl, where=self.clouds.scl > 0)
        return scl

    def reflectance(self, band: str, *, toa: bool = False) -> np.ndarray:
        """float32 reflectance of ``band`` (``B02``...) at its own resolution, surface (L2A)
        or top of atmosphere (L1C: plus ``TOA_PATH``); the same on every call. The four bands
        only L1C products carry here (``TOA_BANDS``: B01, B8A, B09, B10) exist only at the top
        of the atmosphere."""
        if band in TOA_BAND_NAMES:
            if not toa:
                raise ValueError(f"band {band} is drawn only at the top of the atmosphere (L1C)")
            return self._toa_band(TOA_BANDS[TOA_BAND_NAMES.index(band)])
        index = BAND_NAMES.index(band)
        rng = np.random.default_rng(self.streams[band])
        if BANDS[index].resolution == BASE_RESOLUTION:
            reflectance = self._reflectance_10m(index, rng)[: self.size, : self.size]
        else:
            reflectance = self._reflectance_20m(index, rng)
        if toa:
            reflectance += np.float32(TOA_PATH[index])
        return reflectance

    def dn(self, band: str, *, offset: float = DN_OFFSET, toa: bool = False) -> np.ndarray:
        """uint16 DNs of ``band`` encoded with reflectance ``offset`` (baseline >= 04.00: -0.1)."""
        return to_dn(self.reflectance(band, toa=toa), offset)

    def cloudmask(self) -> np.ndarray:
        """(size, size) uint8 cloud-mask truth at 10 m (``catalog_schemas.cloudmask`` values)."""
        snow_code = clc.grid_code_of(335)
        mask = np.where(self.truth() == snow_code, cm.SNOW, cm.CLEAR).astype(np.uint8)
        if self.clouds is not None:
            alpha = self.clouds.alpha[: self.size, : self.size]
            mask[self.clouds.shadow[: self.size, : self.size]] = cm.SHADOW
            mask[alpha > 0] = cm.THIN_CLOUD
            mask[alpha >= CLOUD_MEDIUM] = cm.CLOUD
        return mask

    def _surface(self, band_index: int) -> np.ndarray:
        """(n20, n20) float32 reflectance of each 20 m pixel's parcel, before noise and clouds
        (``band_index`` into ``BANDS``)."""
        signature = np.array([SPECTRA[c][band_index] for c in CLASSES], dtype=np.float32)
        per_parcel = signature[self.land.parcel_class] * self.land.parcel_gain[:, band_index]
        surface = per_parcel[self.land.labels]
        for conversion, mask in self._converted():
            # The parcel's own brightness variation stays: a burnt wood is not uniform either.
            gain = self.land.parcel_gain[self.land.labels[mask], band_index]
            surface[mask] = np.float32(conversion.signature(band_index)) * gain
        return surface

    def _toa_band(self, spec: ToaBand) -> np.ndarray:
        """float32 top-of-atmosphere reflectance of one of ``TOA_BANDS`` at its resolution."""
        rng = np.random.default_rng(self.streams[spec.band.name])
        surface = np.zeros((self.land.labels.shape), dtype=np.float32)
        for band, weight in spec.mix:
            surface += np.float32(weight) * self._surface(BAND_NAMES.index(band))
        _add_noise(surface, rng)
        if self.clouds is not None:
            surface *= 1 - np.float32(SHADOW_DIMMING) * self.clouds.shadow20
        surface *= np.float32(spec.transmittance)
        if self.clouds is not None:
            _blend(surface, self.clouds.alpha20, spec.cloud)
        surface += np.float32(spec.path)
        factor = spec.band.resolution // (2 * BASE_RESOLUTION)  # 20 m pixels per side
        return _mean_blocks(surface, factor) if factor > 1 else surface

    def _converted(self) -> list[tuple[Conversion, np.ndarray]]:
        """Each conversion with its 20 m mask, judged on the land cover before any of them."""
        if not self.conversions:
            return []
        class_index = self.land.parcel_class[self.land.labels]
        return [(c, c.mask20(class_index)) for c in self.conversions]

    def _reflectance_10m(self, band_index: int, rng: np.random.Generator) -> np.ndarray:
        reflectance = upsample2(self._surface(band_index))
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


def _mean_blocks(array: np.ndarray, factor: int) -> np.ndarray:
    """Means of ``factor`` x ``factor`` blocks, the last row/column repeated to fill a block."""
    rows, cols = array.shape
    padded = np.pad(array, ((0, -rows % factor), (0, -cols % factor)), mode="edge")
    n, m = padded.shape[0] // factor, padded.shape[1] // factor
    return padded.reshape(n, factor, m, factor).mean(axis=(1, 3), dtype=np.float32)


def _blend(reflectance: np.ndarray, alpha: np.ndarray, cloud: float) -> None:
    """Lay a cloud of opacity ``alpha`` over the surface, in place."""
    veil = np.subtract(np.float32(cloud), reflectance)
    veil *= alpha
    reflectance += veil
