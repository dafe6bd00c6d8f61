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

s2cloudless has no shadows: ``ingest.clouds.cloud_shadows`` casts the clouds away from the sun onto
dark ground that is not water (none without the sun's position). Shadows and snow are decided
at the working resolution, so their edges follow its pixels. The same pass gathers what
``ingest.clouds.haze`` needs to take the haze off what the land-cover models read.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields
from importlib.metadata import version

import numpy as np
import pystac
from rasterio.windows import Window
from scipy import ndimage

from catalog_schemas import cloudmask as cm
from inference import s2cloudless
from ingest.clouds.cloud_shadows import cast_shadows, sun_angles
from ingest.clouds.haze import HAZE_ANCHORS, HAZE_BINS, haze_from_histograms
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
# Shadows fall only on dark pixels (NIR + SWIR 1.6 top-of-atmosphere reflectance below this)
# that are not water (NDWI); ``cloud_shadows`` places where they can fall.
DARK_NIR_SWIR, WATER_NDWI = 0.25, 0.2
HAZE_EDGE_PX = 2  # JP2's reduced resolutions ring this many coarse pixels around contrasts


def toa_cloud_source(resolution_m: int) -> str:
    """How the mask is made, for the item's lineage."""
    return (f"s2cloudless {version('s2cloudless')} ({s2cloudless.MODEL_FILE.rsplit('/', 1)[-1]})"
            f" at {resolution_m} m with an NDSI snow test and shadows cast from the sun")


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


@dataclass(frozen=True)
class CoarseClasses:
    """The working resolution's pixels (a strip or the whole product), classified."""

    probability: np.ndarray  # float32 cloud probability (0 where snow or invalid)
    snow: np.ndarray  # bool
    dark: np.ndarray  # bool: dark enough for a shadow, not water, not snow
    sky: np.ndarray  # bool: clear ground away from edges, the haze's dark-object candidates

    @classmethod
    def empty(cls, rows: int, cols: int) -> CoarseClasses:
        return cls(np.zeros((rows, cols), np.float32), *(np.zeros((rows, cols), bool)
                                                          for _ in range(3)))

    def put(self, top: int, strip: CoarseClasses) -> None:
        """Copy ``strip``'s classes into rows ``top:`` of these."""
        for mine, theirs in zip(_fields(self), _fields(strip), strict=True):
            mine[top:top + len(theirs)] = theirs


@dataclass(frozen=True)
class Coarse:
    """What the product says at the working resolution."""

    classes: CoarseClasses  # of the whole product
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
    return L1CMask(fine_mask(coarse, sun, resolution_m, height, width), coarse.haze)


def fine_mask(coarse: Coarse, sun: tuple[float, float] | None, resolution_m: float,
              height: int, width: int) -> np.ndarray:
    """The (height, width) 10 m mask from the working resolution's classes; shadows if
    ``sun`` (zenith, azimuth) is known."""
    if sun is None:
        shadow = np.zeros_like(coarse.classes.snow)
    else:
        shadow = cast_shadows(coarse.classes.probability > s2cloudless.THRESHOLD,
                              coarse.classes.dark, sun, resolution_m)
    mask = np.empty((height, width), dtype=np.uint8)
    for start in range(0, height, STRIP_ROWS):
        stop = min(start + STRIP_ROWS, height)
        mask[start:stop] = _strip(coarse, shadow, start, stop, height, width)
    return mask


def _fields(classes: CoarseClasses) -> list[np.ndarray]:
    return [getattr(classes, f.name) for f in fields(classes)]


def classify(toa: np.ndarray, valid: np.ndarray) -> CoarseClasses:
    """Classes of ``toa`` ([len(BANDS), h, w] reflectance in :data:`BANDS` order) at the
    working resolution."""
    index = {band: i for i, band in enumerate(BANDS)}
    b03, b08, b11 = toa[index["B03"]], toa[index["B08"]], toa[index["B11"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        ndsi = (b03 - b11) / (b03 + b11)
        ndwi = (b03 - b08) / (b03 + b08)
    snow = valid & (ndsi > NDSI_SNOW) & (b08 > NIR_SNOW)
    todo = valid & ~snow
    probability = np.zeros(valid.shape, dtype=np.float32)
    pixels = np.moveaxis(toa[[index[b] for b in s2cloudless.BANDS]], 0, -1)[todo]
    if pixels.size:
        probability[todo] = s2cloudless.probabilities(pixels, s2cloudless.EARLY_STOP_MARGIN)
    dark = todo & (b08 + b11 < DARK_NIR_SWIR) & (ndwi < WATER_NDWI)
    # Candidate dark objects: clear ground, not snow, not what may be a shadow; away from
    # edges, around which JP2's reduced resolutions ring.
    sky = todo & ~dark & (probability <= s2cloudless.THRESHOLD)
    sky = ndimage.binary_erosion(sky, iterations=HAZE_EDGE_PX, border_value=1)
    return CoarseClasses(probability, snow, dark, sky)


def coarse_from_arrays(toa: np.ndarray, valid: np.ndarray, factor: int) -> Coarse:
    """:class:`Coarse` of a whole image already at the working resolution (tests, benches)."""
    classes = classify(toa, valid)
    return Coarse(classes, factor, haze_from_histograms(_histograms(toa, classes.sky)))


def _histograms(toa: np.ndarray, sky: np.ndarray) -> dict[str, np.ndarray]:
    return {band: np.histogram(toa[BANDS.index(band)][sky], HAZE_BINS)[0]
            for band in HAZE_ANCHORS}


def _coarse(item: pystac.Item, height: int, width: int, resolution_m: int) -> Coarse:
    with open_product(item, list(BANDS)) as reader:
        if (reader.grid.height, reader.grid.width) != (height, width):
            raise InvalidProductError(f"{item.id}: the cloud bands' grid is {reader.grid.width}x"
                                      f"{reader.grid.height} px, the product's {width}x{height}")
        factor = round(resolution_m / abs(reader.grid.transform.a))
        rows, cols = math.ceil(height / factor), math.ceil(width / factor)
        whole = CoarseClasses.empty(rows, cols)
        histograms = {band: np.zeros(HAZE_BINS.size - 1, np.int64) for band in HAZE_ANCHORS}
        for top in range(0, rows, COARSE_STRIP_ROWS):
            n = min(COARSE_STRIP_ROWS, rows - top)
            window = Window(0, top * factor, width, min(n * factor, height - top * factor))
            toa, valid = reader.read(window, shape=(n, cols))
            classes = classify(toa, valid)
            whole.put(top, classes)
            for band, counts in _histograms(toa, classes.sky).items():
                histograms[band] += counts
    return Coarse(whole, factor, haze_from_histograms(histograms))


def _strip(coarse: Coarse, shadow: np.ndarray, start: int, stop: int, height: int,
           width: int) -> np.ndarray:
    """Rows ``start:stop`` of the 10 m mask."""
    factor, probability = coarse.factor, coarse.classes.probability
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
    out[coarse.classes.snow[under]] = cm.SNOW
    return out
