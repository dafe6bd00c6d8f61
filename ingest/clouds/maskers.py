"""Cloud masking behind one interface, the masker chosen by what the product carries.

- ``SclMasker``: the product's own scene classification (L2A), read window by window
  (``cloudmask``);
- ``ToaMasker``: s2cloudless on the top-of-atmosphere bands of an L1C product without SCL, with
  the haze of each band from the same pass (``cloudmask_toa``);
- ``NoMasker``: neither; the item then has no cloud mask and keeps the provider's cloud cover.

``masker_for`` chooses; the pipeline asks the masker for a ``CloudMask`` and never branches on
the product's type itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pystac
from rasterio.windows import Window

from catalog_schemas import cloudmask as cm
from inference.windows import windows
from ingest.clouds.cloudmask import SCL_SOURCE, cloudmask_from_scl
from ingest.clouds.cloudmask_toa import BANDS as TOA_CLOUD_BANDS
from ingest.clouds.cloudmask_toa import has_toa_bands, is_l1c, l1c_cloudmask, toa_cloud_source
from ingest.errors import InvalidProductError
from ingest.readers import ProductReader, band_asset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CloudMask:
    """A product's cloud mask on its 10 m grid and what the item should say of it."""

    values: np.ndarray | None  # (height, width) uint8 ``catalog_schemas.cloudmask`` values
    lineage: tuple[str, ...] = ()  # how the mask was made, for the item's lineage
    haze: dict[str, float] | None = None  # band -> path reflectance (TOA masks only)
    from_toa: bool = False  # made by s2cloudless (its software goes in the item)
    marks_nodata: bool = True  # False: the mask cannot tell where the bands had no pixel

    def over(self, land_cover: np.ndarray, nodata: int, unrun: np.ndarray | None = None
             ) -> np.ndarray | None:
        """The mask to publish beside ``land_cover``: where the mask cannot tell invalid
        pixels itself (made coarser), those where the land cover is ``nodata`` are nodata,
        but for ``unrun`` ones (valid bands the model was not run on: all hidden anyway)."""
        if self.values is not None and not self.marks_nodata:
            invalid = land_cover == nodata
            if unrun is not None:
                invalid &= ~unrun
            self.values[invalid] = cm.NODATA
        return self.values

    def keep(self, window: Window) -> np.ndarray:
        """Pixels of ``window`` whose land cover will be published: not obscured (cloud,
        thin cloud, shadow) nor nodata in the mask (all, without a mask)."""
        if self.values is None:
            return np.ones((int(window.height), int(window.width)), bool)
        return ~np.isin(self.values[window.toslices()], (*cm.OBSCURED, cm.NODATA))


class CloudMasker(Protocol):
    def cloud_mask(self, reader: ProductReader) -> CloudMask:
        """The cloud mask of the product ``reader`` reads, on its 10 m grid."""
        ...


@dataclass(frozen=True)
class SclMasker:
    """The mask from the product's scene classification (SCL, 20 m, resampled nearest)."""

    window_size: int

    def cloud_mask(self, reader: ProductReader) -> CloudMask:
        height, width = reader.grid.height, reader.grid.width
        mask = np.zeros((height, width), dtype=np.uint8)
        for w in windows(height, width, self.window_size):
            rows, cols = w.toslices()
            mask[rows, cols] = cloudmask_from_scl(
                reader.read_on_grid("SCL", w, categorical=True))
        return CloudMask(mask, (f"clouds from {SCL_SOURCE}",))


@dataclass(frozen=True)
class ToaMasker:
    """s2cloudless on the top-of-atmosphere bands at ``resolution_m``, snow, shadows, and each
    band's haze from the same pass (it comes off what a model made for surface reflectance
    reads)."""

    resolution_m: int

    def cloud_mask(self, reader: ProductReader) -> CloudMask:
        l1c = l1c_cloudmask(reader.item, reader.grid.height, reader.grid.width,
                            self.resolution_m)
        # Made coarser, the mask has nothing to say where the bands had no valid pixel.
        return CloudMask(l1c.mask, (f"clouds from {toa_cloud_source(self.resolution_m)}",),
                         haze=l1c.haze, from_toa=True, marks_nodata=False)


class NoMasker:
    """No SCL and not the bands of s2cloudless: no mask."""

    def cloud_mask(self, reader: ProductReader) -> CloudMask:
        return CloudMask(None)


def masker_for(item: pystac.Item, *, window_size: int, toa_resolution_m: int) -> CloudMasker:
    """The masker for ``item``: its SCL where it has one, else s2cloudless for an L1C product
    with the bands it reads, else none."""
    try:
        band_asset(item, "SCL")
        return SclMasker(window_size)
    except InvalidProductError:
        pass
    if is_l1c(item) and has_toa_bands(item):
        return ToaMasker(toa_resolution_m)
    log.warning("%s: no SCL and not the bands of s2cloudless (%s): no cloud mask",
                item.id, ", ".join(TOA_CLOUD_BANDS))
    return NoMasker()
