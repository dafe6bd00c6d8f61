"""The cloud mask of an L1C product: s2cloudless on its top-of-atmosphere bands, snow by NDSI.

L1C products carry no scene classification, so their clouds come from s2cloudless (the LightGBM
pixel classifier Sentinel Hub runs for its own cloud masks, ``inference.s2cloudless``): the
booster runs on the product read at a coarser resolution (60 m by default, the resolution of
B01, B09 and the cirrus band B10; Sentinel Hub itself runs it at 160 m), with LightGBM's early
stopping; the probability is then interpolated (bilinear) onto the 10 m grid, where
s2cloudless's own post-processing runs (average over a disk, threshold 0.4, dilation), strip by
strip with a halo, so a full tile never holds a 10 m float image whole.

s2cloudless mistakes bright snow for cloud, so snow is found first with the normalised
difference snow index (NDSI = (B03 - B11) / (B03 + B11) > 0.4 with B08 > 0.11, the rule of
Sen2Cor and MODIS): there the cloud probability is 0 and the mask says snow.

s2cloudless has no shadows. They are placed as Google Earth Engine's s2cloudless tutorial and
Fmask place them: the clouds (probability over the threshold) projected away from the sun for
cloud heights of 0.5-3 km, given the sun's position (``view:sun_elevation``/``_azimuth``, from
the SAFE's ``MTD_TL.xml`` or the STAC item), and there only the dark pixels that are not water.
Without sun angles the mask has no shadow. Shadows and snow are decided at the working
resolution, so their edges follow its pixels.

The same pass estimates each band's haze (path reflectance) for the land-cover models, which
were made for surface reflectance: dark-object subtraction (Chavez 1988) in blue and red, the
two bands with objects dark enough, extended to the other bands by a relative scattering model
(lambda^-n, Chavez 1996) fitted through those two. The pipeline subtracts it from what the
model reads (``EARTHSIG_L1C_HAZE_REMOVAL``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
import pystac
from rasterio.windows import Window
from scipy import ndimage

from catalog_schemas import cloudmask as cm
from inference import s2cloudless
from ingest.errors import InvalidProductError
from ingest.readers import band_asset, open_product

log = logging.getLogger(__name__)

SNOW_BANDS = ("B03",)  # with B08 and B11, which s2cloudless reads too
BANDS = (*s2cloudless.BANDS, *SNOW_BANDS)
NDSI_SNOW, NIR_SNOW = 0.4, 0.11
STRIP_ROWS = 512  # 10 m rows of the mask made at once (~150 MB of temporaries on a full tile)
COARSE_STRIP_ROWS = 256  # coarse rows read and classified at once
# Rows either side a strip needs: the averaging disk and the dilation disk reach that far.
HALO = s2cloudless.AVERAGE_OVER + s2cloudless.DILATION_SIZE
# Shadows: a dark pixel (NIR + SWIR 1.6 top-of-atmosphere reflectance below this; not water by
# NDWI) where some cloud between these heights would cast its shadow, given the sun's position.
DARK_NIR_SWIR, WATER_NDWI = 0.25, 0.2
CLOUD_HEIGHTS_M = (500.0, 3000.0)
# Haze: the darkest 0.1 % of clear ground is taken to reflect 1 % at the surface (Chavez's
# dark-object subtraction); the rest of its top-of-atmosphere reflectance is path radiance.
HAZE_PERCENTILE, DARK_OBJECT, HAZE_MIN_PIXELS = 0.1, 0.01, 1000
HAZE_EDGE_PX = 2
HAZE_ANCHORS = ("B02", "B04")  # bands with dark objects: blue and red
SCATTERING_EXPONENT = (0.5, 4.0)  # hazy ... Rayleigh
WAVELENGTHS_UM = {"B01": 0.443, "B02": 0.49, "B03": 0.56, "B04": 0.665, "B05": 0.704,
                  "B06": 0.74, "B07": 0.783, "B08": 0.842, "B8A": 0.865, "B09": 0.945,
                  "B10": 1.375, "B11": 1.61, "B12": 2.19}
HAZE_BINS = np.linspace(0.0, 0.3, 601)  # 0.0005 reflectance per bin
MAX_SUN_ZENITH = 80.0  # beyond it, shadows reach too far to be placed


def toa_cloud_source(resolution_m: int) -> str:
    """How the mask is made, for the item's lineage."""
    return (f"s2cloudless {version('s2cloudless')} ({s2cloudless.MODEL_FILE.rsplit('/', 1)[-1]})"
            f" at {resolution_m} m with an NDSI snow test and shadows cast from the sun")


def haze_lineage(haze: dict[str, float], bands: list[str]) -> str:
    """What was subtracted from the model's bands, for the item's lineage."""
    return ("haze removed by dark-object subtraction in blue and red and a lambda^-n "
            "scattering model (" + ", ".join(f"{b} {haze.get(b, 0.0):.4f}" for b in bands)
            + ")")


def is_l1c(item: pystac.Item) -> bool:
    """Whether ``item`` is a Level-1C (top-of-atmosphere) product, by whichever field says so."""
    level = str(item.properties.get("processing:level", ""))
    product_type = str(item.properties.get("s2:product_type", ""))
    return level.upper() == "L1C" or product_type.upper() in ("S2MSI1C", "S2MSI_L1C")


def has_toa_bands(item: pystac.Item) -> bool:
    """Whether ``item`` carries every band the L1C cloud mask reads."""
    try:
        for band in BANDS:
            band_asset(item, band)
    except InvalidProductError:
        return False
    return True


def sun_angles(item: pystac.Item) -> tuple[float, float] | None:
    """(zenith, azimuth) of the sun in degrees from the item's ``view:sun_elevation`` and
    ``view:sun_azimuth`` (earth-search's items, or a SAFE product's ``MTD_TL.xml``)."""
    elevation = item.properties.get("view:sun_elevation")
    azimuth = item.properties.get("view:sun_azimuth")
    if elevation is None or azimuth is None:
        return None
    return 90.0 - float(elevation), float(azimuth)


@dataclass(frozen=True)
class _Coarse:
    """What the product says at the working resolution."""

    probability: np.ndarray  # float32 cloud probability (0 where snow or invalid)
    snow: np.ndarray  # bool
    dark: np.ndarray  # bool: dark enough for a shadow, not water, not snow
    factor: int  # 10 m pixels per coarse pixel
    haze: dict[str, float]  # band -> path reflectance to subtract (dark-object subtraction)


@dataclass(frozen=True)
class L1CMask:
    mask: np.ndarray  # (height, width) uint8 cloud-mask values on the 10 m grid
    haze: dict[str, float]  # band -> path reflectance (dark-object subtraction)


def cloudmask_from_toa(item: pystac.Item, height: int, width: int,
                       resolution_m: int = 60) -> np.ndarray:
    """(height, width) uint8 cloud mask (``catalog_schemas.cloudmask`` values) of an L1C
    product on its 10 m grid, s2cloudless run at ``resolution_m``; shadows where the item
    gives the sun's position."""
    return l1c_cloudmask(item, height, width, resolution_m).mask


def l1c_cloudmask(item: pystac.Item, height: int, width: int,
                  resolution_m: int = 60) -> L1CMask:
    """The cloud mask of :func:`cloudmask_from_toa` and the haze of each band, from one pass
    over the product at ``resolution_m``."""
    coarse = _coarse(item, height, width, resolution_m)
    sun = sun_angles(item)
    if sun is None:
        log.info("%s: no sun angles (view:sun_elevation, view:sun_azimuth): no shadows",
                 item.id)
        shadow = np.zeros_like(coarse.snow)
    else:
        shadow = _shadows(coarse, sun, resolution_m)
    mask = np.empty((height, width), dtype=np.uint8)
    for start in range(0, height, STRIP_ROWS):
        stop = min(start + STRIP_ROWS, height)
        mask[start:stop] = _strip(coarse, shadow, start, stop, height, width)
    return L1CMask(mask, coarse.haze)


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


def _coarse(item: pystac.Item, height: int, width: int, resolution_m: int) -> _Coarse:
    with open_product(item, list(BANDS)) as reader:
        if (reader.grid.height, reader.grid.width) != (height, width):
            raise InvalidProductError(f"{item.id}: the cloud bands' grid is {reader.grid.width}x"
                                      f"{reader.grid.height} px, the product's {width}x{height}")
        factor = round(resolution_m / abs(reader.grid.transform.a))
        rows, cols = math.ceil(height / factor), math.ceil(width / factor)
        probability = np.zeros((rows, cols), dtype=np.float32)
        snow = np.zeros((rows, cols), dtype=bool)
        dark = np.zeros((rows, cols), dtype=bool)
        index = {band: i for i, band in enumerate(BANDS)}
        booster_bands = [index[b] for b in s2cloudless.BANDS]
        histograms = np.zeros((len(BANDS), HAZE_BINS.size - 1), dtype=np.int64)
        for top in range(0, rows, COARSE_STRIP_ROWS):
            n = min(COARSE_STRIP_ROWS, rows - top)
            window = Window(0, top * factor, width, min(n * factor, height - top * factor))
            toa, valid = reader.read(window, shape=(n, cols))
            b03, b08, b11 = toa[index["B03"]], toa[index["B08"]], toa[index["B11"]]
            with np.errstate(divide="ignore", invalid="ignore"):
                ndsi = (b03 - b11) / (b03 + b11)
                ndwi = (b03 - b08) / (b03 + b08)
            is_snow = valid & (ndsi > NDSI_SNOW) & (b08 > NIR_SNOW)
            todo = valid & ~is_snow
            pixels = np.moveaxis(toa[booster_bands], 0, -1)[todo]
            if pixels.size:
                probability[top:top + n][todo] = s2cloudless.probabilities(
                    pixels, s2cloudless.EARLY_STOP_MARGIN)
            snow[top:top + n] = is_snow
            is_dark = todo & (b08 + b11 < DARK_NIR_SWIR) & (ndwi < WATER_NDWI)
            dark[top:top + n] = is_dark
            # Candidate dark objects: clear ground, not snow, not what may be a shadow.
            sky = todo & ~is_dark & (probability[top:top + n] <= s2cloudless.THRESHOLD)
            # Away from edges: JP2's reduced resolutions ring around sharp contrasts.
            sky = ndimage.binary_erosion(sky, iterations=HAZE_EDGE_PX, border_value=1)
            for i in range(len(BANDS)):
                histograms[i] += np.histogram(toa[i][sky], HAZE_BINS)[0]
    dark_objects = {band: _dark_object_haze(histograms[index[band]]) for band in HAZE_ANCHORS}
    return _Coarse(probability, snow, dark, factor, scattering_haze(*dark_objects.values()))


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


def _dark_object_haze(histogram: np.ndarray) -> float:
    """The band's path reflectance by dark-object subtraction (Chavez 1988): the darkest
    ``HAZE_PERCENTILE`` of clear ground minus the ``DARK_OBJECT`` reflectance it is assumed to
    have; 0 when too few clear pixels."""
    total = int(histogram.sum())
    if total < HAZE_MIN_PIXELS:
        return 0.0
    rank = np.searchsorted(np.cumsum(histogram), total * HAZE_PERCENTILE / 100)
    return max(float(HAZE_BINS[rank]) - DARK_OBJECT, 0.0)


def _shadows(coarse: _Coarse, sun: tuple[float, float], resolution_m: int) -> np.ndarray:
    """Dark pixels where a cloud at some height between ``CLOUD_HEIGHTS_M`` would cast its
    shadow, at the working resolution."""
    cloud = coarse.probability > s2cloudless.THRESHOLD
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
            zone |= _shifted(cloud, *offset)
    return zone & coarse.dark & ~cloud


def _shifted(mask: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``mask`` moved by (rows, cols) pixels; what comes in from outside is False."""
    out = np.zeros_like(mask)
    height, width = mask.shape
    if abs(rows) >= height or abs(cols) >= width:
        return out
    out[max(rows, 0): height + min(rows, 0), max(cols, 0): width + min(cols, 0)] = \
        mask[max(-rows, 0): height + min(-rows, 0), max(-cols, 0): width + min(-cols, 0)]
    return out


def _strip(coarse: _Coarse, shadow: np.ndarray, start: int, stop: int, height: int,
           width: int) -> np.ndarray:
    """Rows ``start:stop`` of the 10 m mask."""
    factor, probability = coarse.factor, coarse.probability
    lo, hi = max(start - HALO, 0), min(stop + HALO, height)
    # Coarse rows under lo:hi, one more each side so the interpolation between pixel centres
    # sees the same neighbours as on the whole image.
    c0 = max(lo // factor - 1, 0)
    c1 = min(math.ceil(hi / factor) + 1, probability.shape[0])
    fine = ndimage.zoom(probability[c0:c1], factor, order=1, grid_mode=True, mode="nearest")
    fine = fine[lo - c0 * factor: hi - c0 * factor, :width]
    cloud = s2cloudless.cloud_mask(fine).astype(bool)[start - lo: stop - lo]
    out = np.where(cloud, cm.CLOUD, cm.CLEAR).astype(np.uint8)
    under = np.ix_(np.arange(start, stop) // factor, np.arange(width) // factor)
    out[shadow[under] & ~cloud] = cm.SHADOW
    out[coarse.snow[under]] = cm.SNOW
    return out
