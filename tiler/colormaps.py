"""Colormap registry with CORINE Land Cover as ``clc`` and the cloud mask as ``cloudmask``."""

from __future__ import annotations

from collections.abc import Callable

from rio_tiler.colormap import ColorMaps
from rio_tiler.colormap import cmap as stock_colormaps
from rio_tiler.types import ColorMapType
from titiler.core.dependencies import create_colormap_dependency

from catalog_schemas import changes, clc, cloudmask
from catalog_schemas.collections import CLC_COLORMAP_NAME
from tiler.legend import CLOUDMASK_COLORMAP_NAME


def colormaps() -> ColorMaps:
    """rio-tiler's stock colormaps plus ``clc``, ``cloudmask`` and ``clc-change`` (from -> to
    transitions) (value -> RGBA, 0 transparent).

    ``register`` returns a new registry, so rio-tiler's global one stays untouched.
    """
    return stock_colormaps.register(
        {CLC_COLORMAP_NAME: clc.colormap(), CLOUDMASK_COLORMAP_NAME: cloudmask.colormap(),
         changes.CHANGE_COLORMAP_NAME: changes.change_colormap()}
    )


def colormap_params(cmaps: ColorMaps | None = None) -> Callable[..., ColorMapType | None]:
    """FastAPI dependency for ``colormap_name=`` (any registered name) or ``colormap=`` (JSON).

    An unknown name fails query validation (422) because the names are a ``Literal``.
    """
    return create_colormap_dependency(cmaps if cmaps is not None else colormaps())
