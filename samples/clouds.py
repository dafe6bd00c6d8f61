"""Clouds and their shadows: opacity from thresholded noise, shadows cast away from the sun."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from ingest.clouds.cloud_shadows import shifted
from samples.arrays import block_reduce, by_rows
from samples.noise import ValueNoise
from samples.spectra import BASE_RESOLUTION, Scl

# What a thick cloud reflects in each of ``spectra.BANDS`` (B02, B03, B04, B05, B06, B07, B08,
# B11, B12): nearly white in the visible and NIR, darker in the SWIR.
CLOUD_REFLECTANCE = (0.62, 0.60, 0.60, 0.61, 0.61, 0.62, 0.62, 0.45, 0.32)
CLOUD_OCTAVES = ((640.0, 1.0), (200.0, 0.5), (64.0, 0.25))
CLOUD_EDGE = 0.3  # noise units from the cloud's edge to full opacity
CLOUD_MEDIUM, CLOUD_HIGH = 0.3, 0.6  # opacity thresholds of SCL 8 and 9; below: SCL 10
SHADOW_DIMMING = 0.7  # shadows keep 30 % of the light
CLOUD_HEIGHT_M = (800.0, 2500.0)  # a scene's clouds all float at one height drawn from these


@dataclass(frozen=True)
class Clouds:
    """Cloud opacity and shadows on the 10 m grid, and what the 20 m bands and SCL see of them."""

    alpha: np.ndarray  # (n10, n10) float32 opacity 0-1 on the (padded) 10 m grid
    shadow: np.ndarray  # (n10, n10) bool, in a cloud's shadow and not under a cloud
    alpha20: np.ndarray  # (n20, n20) float32 mean opacity of each 20 m pixel
    shadow20: np.ndarray  # (n20, n20) float32 shadowed share of each 20 m pixel
    scl: np.ndarray  # (n20, n20) uint8 SCL cloud classes, 0 where clear

    @classmethod
    def from_layers(cls, alpha: np.ndarray, shadow: np.ndarray) -> Clouds:
        # A 20 m SCL pixel is clear only if all four 10 m pixels are: clear SCL means clear.
        alpha_max = block_reduce(alpha, np.maximum)
        scl = np.where(block_reduce(shadow, np.logical_or), Scl.CLOUD_SHADOWS, 0)
        scl = scl.astype(np.uint8)
        scl[alpha_max > 0] = Scl.THIN_CIRRUS
        scl[alpha_max >= CLOUD_MEDIUM] = Scl.CLOUD_MEDIUM_PROBABILITY
        scl[alpha_max >= CLOUD_HIGH] = Scl.CLOUD_HIGH_PROBABILITY
        alpha20 = block_reduce(alpha, np.add)
        alpha20 *= np.float32(0.25)
        shadow20 = block_reduce(shadow.view(np.uint8), np.add).astype(np.float32)
        shadow20 *= np.float32(0.25)
        return cls(alpha, shadow, alpha20, shadow20, scl)


def draw_clouds(rng: np.random.Generator, n10: int, cloud_cover: float, latitude: float,
                date: dt.date) -> Clouds | None:
    """Clouds over ``cloud_cover`` percent of an ``n10`` x ``n10`` grid; None when clear."""
    if cloud_cover <= 0:
        return None
    octaves = [(ValueNoise.random(rng, n10, spacing), weight)
               for spacing, weight in CLOUD_OCTAVES]
    centres = np.arange(n10) + 0.5
    alpha = by_rows(lambda a, b: _cloud_field(octaves, centres[a:b], centres),
                    (n10, n10), np.float32)
    alpha -= _cloud_level(alpha, cloud_cover)
    alpha /= CLOUD_EDGE
    np.clip(alpha, 0, 1, out=alpha)
    drow, dcol = _shadow_offset(rng, latitude, date)
    shadow = shifted(alpha >= CLOUD_MEDIUM, drow, dcol) & (alpha == 0)
    return Clouds.from_layers(alpha, shadow)


def _cloud_level(field: np.ndarray, cloud_cover: float) -> float:
    """The noise level that leaves ``cloud_cover`` percent of ``field`` above it."""
    if cloud_cover >= 100:
        return -math.inf  # overcast: opaque everywhere
    # On a full tile a sparse sample estimates the quantile well enough, four times faster.
    sample = field[::4, ::4] if field.size > 4_000_000 else field
    return float(np.quantile(sample, 1 - cloud_cover / 100))


def _cloud_field(octaves: list[tuple[ValueNoise, float]], ys: np.ndarray,
                 xs: np.ndarray) -> np.ndarray:
    field = np.zeros((len(ys), len(xs)), dtype=np.float32)
    for noise, weight in octaves:
        field += weight * noise.sample(ys, xs)
    return field


def sun_position(latitude: float, date: dt.date) -> tuple[float, float]:
    """(zenith, azimuth) of the sun in degrees, late morning as Sentinel-2 passes; azimuth
    clockwise from north. A rough model (declination, a fixed hour), not an ephemeris."""
    declination = 23.44 * math.sin(2 * math.pi * (284 + date.timetuple().tm_yday) / 365)
    # Late morning: the sun stands a little lower than at noon.
    zenith = min(max(abs(latitude - declination) + 12.0, 20.0), 75.0)
    # In the south-east before noon (north-east south of the equator).
    return zenith, 150.0 if latitude >= 0 else 30.0


def _shadow_offset(rng: np.random.Generator, latitude: float,
                   date: dt.date) -> tuple[int, int]:
    """Rows and columns from a cloud to its shadow, from the sun's height and a cloud height."""
    zenith, azimuth = sun_position(latitude, date)
    distance = rng.uniform(*CLOUD_HEIGHT_M) * math.tan(math.radians(zenith)) / BASE_RESOLUTION
    # The shadow falls away from the sun. Rows grow southward.
    azimuth = math.radians(azimuth)
    return round(distance * math.cos(azimuth)), round(-distance * math.sin(azimuth))
