"""STAC readers that open only allowed hrefs and can hide clouded pixels.

The guard sits where an asset name becomes an href (``_get_asset_info``), so tiles, points,
statistics and previews of items and mosaics are all covered. Cloud masking reads the item's
``cloudmask`` asset on the same tile grid and masks obscured pixels: in a "first valid pixel"
mosaic an older clear product then shows through a newer cloudy one.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import attr
import numpy as np
from cachetools import LRUCache
from fastapi import Query
from rio_tiler.errors import InvalidAssetName
from rio_tiler.io import Reader
from rio_tiler.models import ImageData
from rio_tiler.types import AssetInfo, AssetType
from titiler.core.dependencies import DefaultDependency
from titiler.pgstac.reader import PgSTACReader, SimpleSTACReader

from catalog_schemas import cloudmask
from catalog_schemas.assets import CLOUDMASK_ASSET
from tiler.datasets import open_local
from tiler.paths import AssetRoots

# rio-tiler warns, on every read of every asset, when an asset's raster:bands carry no
# min/max statistics; ours describe nodata, type and resolution only (class maps and
# percentages have no rescaling to do), so the warning would be a log line per tile.
warnings.filterwarnings("ignore", message="Some statistics data in STAC are invalid",
                        category=UserWarning, module="rio_tiler")

# Reads that each need their own thread. rio-tiler runs every multi-asset read in a *new*
# thread pool (a new pool per call); GDAL/PROJ set up per thread (about 6 ms here, more than
# reading a 256 px tile of a local COG), so a single asset is read in the request's own
# (pooled, long-lived) thread. Several assets keep upstream's parallel reads.
_OWN_THREAD_READS = 1
# Options that pick or combine assets: the cloud mask is read without them.
_LAYER_OPTIONS = ("assets", "expression", "asset_as_band")


class _GuardedMixin:
    """Href guard and cloud masking over a rio-tiler multi-asset reader."""

    asset_roots: AssetRoots
    mask_clouds: bool
    assets: Sequence[str]

    def _get_asset_info(self, asset: AssetType) -> AssetInfo:
        name = asset.get("name") if isinstance(asset, dict) else asset
        if not name:  # upstream raises a bare ValueError (a 500) for `assets=` left empty
            raise InvalidAssetName(f"an empty asset name is not valid, use one of {self.assets}")
        info = super()._get_asset_info(asset)  # type: ignore[misc]
        self.asset_roots.check(info["url"])
        if self._get_reader(info) is Reader:  # type: ignore[attr-defined]
            dataset = open_local(info["url"])
            if dataset is not None:
                info["reader_options"] = {**info.get("reader_options", {}), "dataset": dataset}
        return info

    def tile(self, tile_x: int, tile_y: int, tile_z: int, **kwargs: Any) -> ImageData:
        kwargs = _in_request_thread(kwargs)
        img = super().tile(tile_x, tile_y, tile_z, **kwargs)  # type: ignore[misc]
        if self.mask_clouds and CLOUDMASK_ASSET in self.assets:
            options = {k: v for k, v in kwargs.items() if k not in _LAYER_OPTIONS}
            # Mask values are classes: never interpolate them.
            options.update(resampling_method="nearest", reproject_method="nearest")
            clouds = super().tile(  # type: ignore[misc]
                tile_x, tile_y, tile_z, assets=[CLOUDMASK_ASSET], **options
            )
            obscured = np.isin(clouds.array.data[0], cloudmask.OBSCURED) & ~clouds.array.mask[0]
            img.array.mask = img.array.mask | obscured[np.newaxis]
        return img

    def part(self, *args: Any, **kwargs: Any) -> ImageData:
        return super().part(*args, **_in_request_thread(kwargs))  # type: ignore[misc]

    def preview(self, *args: Any, **kwargs: Any) -> ImageData:
        return super().preview(*args, **_in_request_thread(kwargs))  # type: ignore[misc]

    def feature(self, *args: Any, **kwargs: Any) -> ImageData:
        return super().feature(*args, **_in_request_thread(kwargs))  # type: ignore[misc]

    def point(self, *args: Any, **kwargs: Any) -> Any:
        return super().point(*args, **_in_request_thread(kwargs))  # type: ignore[misc]


def _in_request_thread(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``threads=1`` (rio-tiler: no pool, read in this thread) when at most one asset is read."""
    assets = kwargs.get("assets")
    count = 1 if isinstance(assets, str | dict) else len(assets or ())
    if "threads" in kwargs or count > 1 or kwargs.get("expression"):
        return kwargs
    return {**kwargs, "threads": _OWN_THREAD_READS}


# An item's zoom range in a tiling scheme, by item and asset files: rio-tiler derives it from
# the item's projection on every read (0.8 ms of a ~10 ms tile); a re-processed item has new
# files, hence a new key.
_ZOOMS: LRUCache[tuple[str, str, tuple[str, ...]], tuple[int, int]] = LRUCache(maxsize=4096)
_ZOOMS_LOCK = threading.Lock()


@attr.s
class ItemReader(_GuardedMixin, PgSTACReader):  # type: ignore[misc]  # the mixin forwards rio-tiler's tile keywords as **kwargs
    """One pgstac item (``/collections/{id}/items/{id}/...``)."""

    asset_roots: AssetRoots = attr.ib(kw_only=True, factory=lambda: AssetRoots([]))
    mask_clouds: bool = attr.ib(kw_only=True, default=False)

    def __attrs_post_init__(self) -> None:
        key = None
        if self.minzoom is None and self.maxzoom is None:
            item = self.input
            key = (str(self.tms.id), item.id, tuple(a.href for a in item.assets.values()))
            with _ZOOMS_LOCK:
                zooms = _ZOOMS.get(key)
            if zooms is not None:
                self.minzoom, self.maxzoom = zooms
                key = None
        super().__attrs_post_init__()
        if key is not None:
            with _ZOOMS_LOCK:
                _ZOOMS[key] = (self.minzoom, self.maxzoom)


@attr.s
class MosaicItemReader(_GuardedMixin, SimpleSTACReader):  # type: ignore[misc]  # the mixin forwards rio-tiler's tile keywords as **kwargs
    """One item of a mosaic, as pgstac's search returns it (id, bbox, assets)."""

    asset_roots: AssetRoots = attr.ib(kw_only=True, factory=lambda: AssetRoots([]))
    mask_clouds: bool = attr.ib(kw_only=True, default=False)


def reader_params(roots: AssetRoots) -> type[DefaultDependency]:
    """Reader options of every item and mosaic request: the app's roots, ``mask_clouds=``.

    The roots are bound here rather than read from the request so that upstream's checks of
    query parameters (WMTS layers, search renders) can call the dependency with the query alone.
    """

    @dataclass
    class ReaderParams(DefaultDependency):
        mask_clouds: Annotated[
            bool,
            Query(
                description=(
                    "Hide pixels the item's cloudmask asset marks as cloud, thin cloud or "
                    "shadow, so an older clear item shows through in a mosaic."
                )
            ),
        ] = False

        def __post_init__(self) -> None:
            self.asset_roots = roots

    return ReaderParams
