"""The cloud mask of an L2A product, from its Sen2Cor scene classification (SCL).

SCL is ESA's own per-pixel classification, delivered with every L2A product at 20 m; it is
resampled (nearest) onto the 10 m grid and mapped onto the project's cloud-mask values.
"""

from __future__ import annotations

import numpy as np

from catalog_schemas import cloudmask as cm

SCL_SOURCE = "the product's scene classification (SCL)"  # for the item's lineage

# SCL value -> cloud-mask value (index = SCL value 0-11).
SCL_TO_CLOUDMASK = np.array(
    [
        cm.NODATA,  # 0 no data
        cm.NODATA,  # 1 saturated or defective: no usable measurement
        cm.CLEAR,  # 2 dark area pixels (terrain shadow, dark surfaces)
        cm.SHADOW,  # 3 cloud shadows
        cm.CLEAR,  # 4 vegetation
        cm.CLEAR,  # 5 not vegetated
        cm.CLEAR,  # 6 water
        cm.CLEAR,  # 7 unclassified
        cm.CLOUD,  # 8 cloud, medium probability
        cm.CLOUD,  # 9 cloud, high probability
        cm.THIN_CLOUD,  # 10 thin cirrus
        cm.SNOW,  # 11 snow or ice
    ],
    dtype=np.uint8,
)


def cloudmask_from_scl(scl: np.ndarray) -> np.ndarray:
    """Map SCL values onto cloud-mask values; values outside 0-11 become nodata."""
    out = np.zeros(scl.shape, dtype=np.uint8)
    known = scl < SCL_TO_CLOUDMASK.size
    out[known] = SCL_TO_CLOUDMASK[scl[known]]
    return out


def obscured(cloudmask: np.ndarray) -> np.ndarray:
    """Pixels whose land cover cannot be seen (cloud, thin cloud, shadow)."""
    return np.isin(cloudmask, cm.OBSCURED)
