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
Sen2Cor and MODIS): there the cloud probability is 0 and the mask says snow. s2cloudless does
not detect shadows: an L1C mask has cloud, snow and clear, never shadow.
"""

from __future__ import annotations

import math
from importlib.metadata import version

import numpy as np
import pystac
from rasterio.windows import Window
from scipy import ndimage

from catalog_schemas import cloudmask as cm
from inference import s2cloudless
from ingest.errors import InvalidProductError
from ingest.readers import band_asset, open_product

SNOW_BANDS = ("B03",)  # with B08 and B11, which s2cloudless reads too
BANDS = (*s2cloudless.BANDS, *SNOW_BANDS)
NDSI_SNOW, NIR_SNOW = 0.4, 0.11
STRIP_ROWS = 512  # 10 m rows of the mask made at once (~150 MB of temporaries on a full tile)
COARSE_STRIP_ROWS = 256  # coarse rows read and classified at once
# Rows either side a strip needs: the averaging disk and the dilation disk reach that far.
HALO = s2cloudless.AVERAGE_OVER + s2cloudless.DILATION_SIZE


def toa_cloud_source(resolution_m: int) -> str:
    """How the mask is made, for the item's lineage."""
    return (f"s2cloudless {version('s2cloudless')} ({s2cloudless.MODEL_FILE.rsplit('/', 1)[-1]})"
            f" at {resolution_m} m with an NDSI snow test")


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


def cloudmask_from_toa(item: pystac.Item, height: int, width: int,
                       resolution_m: int = 60) -> np.ndarray:
    """(height, width) uint8 cloud mask (``catalog_schemas.cloudmask`` values) of an L1C
    product on its 10 m grid, s2cloudless run at ``resolution_m``."""
    probability, snow, factor = _coarse(item, height, width, resolution_m)
    mask = np.empty((height, width), dtype=np.uint8)
    for start in range(0, height, STRIP_ROWS):
        stop = min(start + STRIP_ROWS, height)
        mask[start:stop] = _strip(probability, snow, factor, start, stop, height, width)
    return mask


def _coarse(item: pystac.Item, height: int, width: int, resolution_m: int
            ) -> tuple[np.ndarray, np.ndarray, int]:
    """Cloud probability and snow at ``resolution_m``, and the 10 m pixels per coarse pixel."""
    with open_product(item, list(BANDS)) as reader:
        if (reader.grid.height, reader.grid.width) != (height, width):
            raise InvalidProductError(f"{item.id}: the cloud bands' grid is {reader.grid.width}x"
                             f"{reader.grid.height} px, the product's {width}x{height}")
        factor = round(resolution_m / abs(reader.grid.transform.a))
        rows, cols = math.ceil(height / factor), math.ceil(width / factor)
        probability = np.zeros((rows, cols), dtype=np.float32)
        snow = np.zeros((rows, cols), dtype=bool)
        index = {band: i for i, band in enumerate(BANDS)}
        booster_bands = [index[b] for b in s2cloudless.BANDS]
        for top in range(0, rows, COARSE_STRIP_ROWS):
            n = min(COARSE_STRIP_ROWS, rows - top)
            window = Window(0, top * factor, width, min(n * factor, height - top * factor))
            toa, valid = reader.read(window, shape=(n, cols))
            b03, b08, b11 = toa[index["B03"]], toa[index["B08"]], toa[index["B11"]]
            with np.errstate(divide="ignore", invalid="ignore"):
                ndsi = (b03 - b11) / (b03 + b11)
            is_snow = valid & (ndsi > NDSI_SNOW) & (b08 > NIR_SNOW)
            todo = valid & ~is_snow
            pixels = np.moveaxis(toa[booster_bands], 0, -1)[todo]
            if pixels.size:
                probability[top:top + n][todo] = s2cloudless.probabilities(
                    pixels, s2cloudless.EARLY_STOP_MARGIN)
            snow[top:top + n] = is_snow
    return probability, snow, factor


def _strip(probability: np.ndarray, snow: np.ndarray, factor: int, start: int, stop: int,
           height: int, width: int) -> np.ndarray:
    """Rows ``start:stop`` of the 10 m mask."""
    lo, hi = max(start - HALO, 0), min(stop + HALO, height)
    # Coarse rows under lo:hi, one more each side so the interpolation between pixel centres
    # sees the same neighbours as on the whole image.
    c0 = max(lo // factor - 1, 0)
    c1 = min(math.ceil(hi / factor) + 1, probability.shape[0])
    fine = ndimage.zoom(probability[c0:c1], factor, order=1, grid_mode=True, mode="nearest")
    fine = fine[lo - c0 * factor: hi - c0 * factor, :width]
    cloud = s2cloudless.cloud_mask(fine).astype(bool)[start - lo: stop - lo]
    out = np.where(cloud, cm.CLOUD, cm.CLEAR).astype(np.uint8)
    rows = np.arange(start, stop) // factor
    cols = np.arange(width) // factor
    out[snow[np.ix_(rows, cols)]] = cm.SNOW
    return out
