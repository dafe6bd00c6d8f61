"""Colormap registry with CORINE Land Cover as ``clc`` and the cloud mask as ``cloudmask``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from rio_tiler.colormap import ColorMaps
from rio_tiler.colormap import cmap as stock_colormaps
from rio_tiler.models import ImageData
from rio_tiler.types import ColorMapType
from titiler.core.dependencies import create_colormap_dependency
from titiler.core.utils import render_image

from catalog_schemas import clc, cloudmask
from catalog_schemas import landcover_change as changes
from catalog_schemas.assets import CHANGE_COLORMAP_NAME, CLC_COLORMAP_NAME, CLOUDMASK_COLORMAP_NAME


def colormaps() -> ColorMaps:
    """rio-tiler's stock colormaps plus ``clc``, ``cloudmask`` and ``clc-change`` (from -> to
    transitions) (value -> RGBA, 0 transparent).

    ``register`` returns a new registry, so rio-tiler's global one stays untouched.
    """
    return stock_colormaps.register(
        {CLC_COLORMAP_NAME: clc.colormap(), CLOUDMASK_COLORMAP_NAME: cloudmask.colormap(),
         CHANGE_COLORMAP_NAME: changes.change_colormap()}
    )


def colormap_params(cmaps: ColorMaps | None = None) -> Callable[..., ColorMapType | None]:
    """FastAPI dependency for ``colormap_name=`` (any registered name) or ``colormap=`` (JSON).

    An unknown name fails query validation (422) because the names are a ``Literal``.
    """
    return create_colormap_dependency(cmaps if cmaps is not None else colormaps())


TRANSPARENT = (0, 0, 0, 0)


def as_lookup_table(colormap: ColorMapType | None, dtype: np.dtype) -> ColorMapType | None:
    """A value -> RGBA map of uint8 values as the full 256 entries, missing ones transparent.

    rio-tiler colours a map of fewer than 256 entries value by value (12 ms for a 256 x 256
    tile of the 45-entry CLC map), one of exactly 256 through a lookup table (2 ms); both
    leave values outside the map transparent. Only uint8 data: the table path casts other
    types to uint8, which would colour 300 as 44.
    """
    if (not isinstance(colormap, dict) or not colormap or len(colormap) >= 256
            or dtype != np.uint8
            or not all(isinstance(k, int) and 0 <= k <= 255 for k in colormap)):
        return colormap
    return {value: colormap.get(value, TRANSPARENT) for value in range(256)}


def render_with_lookup_table(image: ImageData, colormap: ColorMapType | None = None,
                             **kwargs: Any) -> tuple[bytes, str]:
    """titiler's ``render_image``, class maps coloured through a lookup table."""
    if not kwargs.get("rescale") and not kwargs.get("color_formula"):  # they change the dtype
        colormap = as_lookup_table(colormap, image.data.dtype)
    return render_image(image, colormap=colormap, **kwargs)
