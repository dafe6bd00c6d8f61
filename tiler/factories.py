"""The titiler / titiler-pgstac factories the app mounts, with our readers and backend.

Every factory keeps upstream's defaults for reading: ``nearest`` resampling and reprojection,
which is what class rasters need (any other method would invent classes at edges).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, cast

import morecantile
import pystac
from fastapi import Query
from morecantile.defaults import TileMatrixSets
from rio_tiler.mosaic.backend import BaseBackend
from rio_tiler.types import ColorMapType
from titiler.core.dependencies import DefaultDependency
from titiler.core.factory import MultiBaseTilerFactory, TilerFactory
from titiler.mosaic.extensions.wmts import wmtsExtension
from titiler.mosaic.factory import MosaicTilerFactory as _BaseMosaicFactory
from titiler.pgstac.backend import PGSTACBackend
from titiler.pgstac.dependencies import CollectionIdParams, SearchIdParams
from titiler.pgstac.extensions import searchInfoExtension
from titiler.pgstac.factory import MosaicTilerFactory

from tiler.backend import MosaicBackend, PgSTACLimits
from tiler.colormaps import render_with_lookup_table
from tiler.limits import BoundedPartParams
from tiler.paths import AssetRoots
from tiler.pyramid_tiles import with_pyramid_zooms
from tiler.readers import ItemReader, MosaicItemReader

ColorMapDependency = Callable[..., ColorMapType | None]

COG_PREFIX = "/cog"
ITEM_PREFIX = "/collections/{collection_id}/items/{item_id}"
COLLECTION_PREFIX = "/collections/{collection_id}"
SEARCH_PREFIX = "/searches/{search_id}"

# Mosaics only in the grid their zoom limits are expressed in (a WMTS layer per grid otherwise).
MOSAIC_TMS = TileMatrixSets({"WebMercatorQuad": morecantile.tms.get("WebMercatorQuad")})
WMTS_LAYER_TITLE = "EarthSignature"


def cog_url_dependency(roots: AssetRoots) -> Callable[..., str]:
    """`url=` query parameter, refused (403) outside the asset roots."""

    def cog_url(url: Annotated[str, Query(description="COG path or URL")]) -> str:
        return roots.check(url)

    return cog_url


def cog_factory(colormap: ColorMapDependency, roots: AssetRoots) -> TilerFactory:
    """Single COGs by path/URL (``/cog/tiles/...?url=``)."""
    return TilerFactory(
        router_prefix=COG_PREFIX,
        path_dependency=cog_url_dependency(roots),
        colormap_dependency=colormap,
        img_part_dependency=BoundedPartParams,
        render_func=render_with_lookup_table,
    )


def item_factory(
    colormap: ColorMapDependency,
    reader_params: type[DefaultDependency],
    item_params: Callable[..., pystac.Item],
) -> MultiBaseTilerFactory:
    """One STAC item from pgstac (``item_params``: tiler.items); assets chosen with ``assets=``."""
    return MultiBaseTilerFactory(
        reader=ItemReader,
        reader_dependency=reader_params,
        path_dependency=item_params,
        router_prefix=ITEM_PREFIX,
        colormap_dependency=colormap,
        img_part_dependency=BoundedPartParams,
        render_func=render_with_lookup_table,
    )


def _mosaic_renders(backend: BaseBackend) -> dict[str, dict[str, Any]]:
    """The collection's STAC ``renders`` as titiler query parameters (tilejson raster_layers,
    WMTS layers: there the pyramid's map announces zoom 0)."""
    renders = cast(PGSTACBackend, backend).info().metadata.defaults_params or {}
    if getattr(backend, "pyramid_layers", False):
        return with_pyramid_zooms(renders, backend.maxzoom)
    return renders


def _mosaic_factory(
    path_dependency: Callable[..., str],
    prefix: str,
    colormap: ColorMapDependency,
    reader_params: type[DefaultDependency],
    backend_params: type[DefaultDependency],
) -> MosaicTilerFactory:
    # Items come from pgstac sorted by datetime, newest first, and the default pixel selection
    # ("first") keeps the first valid pixel: the newest product is on top.
    return MosaicTilerFactory(
        path_dependency=path_dependency,
        router_prefix=prefix,
        backend=MosaicBackend,
        backend_dependency=backend_params,
        dataset_reader=MosaicItemReader,
        reader_dependency=reader_params,
        colormap_dependency=colormap,
        render_func=render_with_lookup_table,
        supported_tms=MOSAIC_TMS,
        get_renders=_mosaic_renders,
        assets_accessor_dependency=PgSTACLimits,
        extensions=[
            searchInfoExtension(),
            wmtsExtension(layer_identifier_provider=lambda _: WMTS_LAYER_TITLE),
        ],
    )


def collection_factory(
    colormap: ColorMapDependency,
    reader_params: type[DefaultDependency],
    backend_params: type[DefaultDependency],
) -> MosaicTilerFactory:
    """Mosaic of every item of a collection (``/collections/{collection_id}/tiles/...``)."""
    return _mosaic_factory(
        CollectionIdParams, COLLECTION_PREFIX, colormap, reader_params, backend_params
    )


def search_factory(
    colormap: ColorMapDependency,
    reader_params: type[DefaultDependency],
    backend_params: type[DefaultDependency],
) -> MosaicTilerFactory:
    """Mosaic of a search registered with ``POST /searches/register``."""
    return _mosaic_factory(SearchIdParams, SEARCH_PREFIX, colormap, reader_params, backend_params)


def search_tile_dependencies(factory: _BaseMosaicFactory) -> list[Callable[..., Any]]:
    """What `/searches/register` checks a search's renders against, as titiler-pgstac does."""
    return [
        factory.layer_dependency,
        factory.dataset_dependency,
        factory.pixel_selection_dependency,
        factory.process_dependency,
        factory.render_dependency,
        factory.assets_accessor_dependency,
        factory.reader_dependency,
        factory.backend_dependency,
    ]
