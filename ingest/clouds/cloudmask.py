"""The cloud mask of an L2A product, from its Sen2Cor scene classification (SCL).

SCL is ESA's own per-pixel classification, delivered with every L2A product at 20 m; it is
resampled (nearest) onto the 10 m grid and mapped onto the project's cloud-mask values.
"""

from __future__ import annotations

import numpy as np

from catalog_schemas import cloudmask as cm

SCL_SOURCE = "the product's scene classification (SCL)"  # for the item's lineage

# catalog_schemas.cloudmask.SCL_TO_CLOUDMASK as an array to index with.
_SCL_LOOKUP = np.array(cm.SCL_TO_CLOUDMASK, dtype=np.uint8)


def cloudmask_from_scl(scl: np.ndarray) -> np.ndarray:
    """Map SCL values onto cloud-mask values; values outside 0-11 become nodata."""
    out = np.zeros(scl.shape, dtype=np.uint8)
    known = scl < _SCL_LOOKUP.size
    out[known] = _SCL_LOOKUP[scl[known]]
    return out


def obscured(cloudmask: np.ndarray) -> np.ndarray:
    """Pixels whose land cover cannot be seen (cloud, thin cloud, shadow)."""
    return np.isin(cloudmask, cm.OBSCURED)
