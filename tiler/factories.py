"""The titiler / titiler-pgstac factories the app mounts, each with our colormap dependency.

Every factory keeps upstream's defaults for reading: ``nearest`` resampling and reprojection,
which is what class rasters need (any other method would invent classes at edges).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import Query
from rio_tiler.types import ColorMapType
from titiler.core.factory import MultiBaseTilerFactory, TilerFactory
from titiler.mosaic.factory import MosaicTilerFactory as _BaseMosaicFactory
from titiler.pgstac.backend import PGSTACBackend
from titiler.pgstac.dependencies import CollectionIdParams, ItemIdParams, SearchIdParams
from titiler.pgstac.extensions import searchInfoExtension
from titiler.pgstac.factory import MosaicTilerFactory
from titiler.pgstac.reader import PgSTACReader

from tiler.errors import DatasetNotAllowedError

ColorMapDependency = Callable[..., ColorMapType | None]

COG_PREFIX = "/cog"
ITEM_PREFIX = "/collections/{collection_id}/items/{item_id}"
COLLECTION_PREFIX = "/collections/{collection_id}"
SEARCH_PREFIX = "/searches/{search_id}"


def cog_url_dependency(prefixes: Sequence[str]) -> Callable[..., str]:
    """`url=` query parameter, limited to ``prefixes`` when any are given."""
    allowed = tuple(prefixes)

    def cog_url(url: Annotated[str, Query(description="COG path or URL")]) -> str:
        # ".." would walk out of an allowed folder while still matching its prefix.
        if allowed and (not url.startswith(allowed) or ".." in url.split("/")):
            raise DatasetNotAllowedError(f"{url!r} is not in a location this tiler serves")
        return url

    return cog_url


def cog_factory(colormap: ColorMapDependency, url_prefixes: Sequence[str]) -> TilerFactory:
    """Single COGs by path/URL (``/cog/tiles/...?url=``)."""
    return TilerFactory(
        router_prefix=COG_PREFIX,
        path_dependency=cog_url_dependency(url_prefixes),
        colormap_dependency=colormap,
    )


def item_factory(colormap: ColorMapDependency) -> MultiBaseTilerFactory:
    """One STAC item from pgstac; its assets are chosen with ``assets=``."""
    return MultiBaseTilerFactory(
        reader=PgSTACReader,
        path_dependency=ItemIdParams,
        router_prefix=ITEM_PREFIX,
        colormap_dependency=colormap,
    )


def _mosaic_renders(backend: PGSTACBackend) -> dict[str, dict[str, Any]]:
    """The collection's STAC ``renders`` as titiler query parameters (tilejson raster_layers)."""
    return backend.info().metadata.defaults_params or {}


def _mosaic_factory(
    path_dependency: Callable[..., str], prefix: str, colormap: ColorMapDependency
) -> MosaicTilerFactory:
    # Items come from pgstac sorted by datetime, newest first, and the default pixel selection
    # ("first") keeps the first valid pixel: the newest product is on top.
    return MosaicTilerFactory(
        path_dependency=path_dependency,
        router_prefix=prefix,
        colormap_dependency=colormap,
        get_renders=_mosaic_renders,
        extensions=[searchInfoExtension()],
    )


def collection_factory(colormap: ColorMapDependency) -> MosaicTilerFactory:
    """Mosaic of every item of a collection (``/collections/{collection_id}/tiles/...``)."""
    return _mosaic_factory(CollectionIdParams, COLLECTION_PREFIX, colormap)


def search_factory(colormap: ColorMapDependency) -> MosaicTilerFactory:
    """Mosaic of a search registered with ``POST /searches/register``."""
    return _mosaic_factory(SearchIdParams, SEARCH_PREFIX, colormap)


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
