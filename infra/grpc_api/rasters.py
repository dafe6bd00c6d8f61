"""The published COGs as the old API's rasters: a window (the request's area, or the whole
product) of the land cover and of the cloud mask, at full resolution or from an overview.

Sizes are checked before anything is read: a raster over the server's limit is refused with
:class:`TooLarge`, whose message names the limit and the overview level (or a smaller area)
that would fit. Nothing is ever cut short silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
import shapely
from rasterio.features import geometry_mask
from rasterio.warp import transform_bounds, transform_geom
from rasterio.windows import Window, from_bounds

from catalog_schemas import cloudmask as cm
from catalog_schemas.assets import CLOUDMASK_ASSET, LANDCOVER_ASSET
from infra.grpc_api.queries import InvalidRequest, TooLarge

WGS84 = "EPSG:4326"
LIMIT_NAME = "EARTHSIG_GRPC_MAX_RASTER_PIXELS"


@dataclass(frozen=True)
class Plan:
    """What to read of one item: its COG hrefs, the overview and the window in it."""

    item: dict[str, Any]
    landcover: str
    cloudmask: str | None
    overview_level: int
    window: Window | None  # None: the area misses the item's grid

    @property
    def pixels(self) -> int:
        return 0 if self.window is None else int(self.window.width * self.window.height)


@dataclass(frozen=True)
class Rasters:
    """One item's rasters, row-major, with their grid."""

    classes: np.ndarray
    cloud: np.ndarray | None  # 1 cloud (opaque, thin or shadow), 0 clear
    crs: str
    transform: tuple[float, ...]


def _open(href: str, level: int) -> Any:
    # GDAL's OVERVIEW_LEVEL opens the n-th overview as if it were the file: its own pixels
    # (the COGs' overviews are MODE-resampled classes), its own transform.
    return rasterio.open(href, overview_level=level - 1) if level > 0 else rasterio.open(href)


def _overview_count(href: str) -> int:
    with rasterio.open(href) as src:
        return len(src.overviews(1))


def _window(src: Any, area: shapely.Geometry | None) -> Window | None:
    full = Window(0, 0, src.width, src.height)
    if area is None:
        return full
    bounds = transform_bounds(WGS84, src.crs, *area.bounds, densify_pts=21)
    wanted = from_bounds(*bounds, transform=src.transform)
    # Whole pixels that touch the area, within the grid.
    col0, row0 = math.floor(wanted.col_off), math.floor(wanted.row_off)
    col1 = math.ceil(wanted.col_off + wanted.width)
    row1 = math.ceil(wanted.row_off + wanted.height)
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, src.width), min(row1, src.height)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def _suggestion(pixels: int, level: int, limit: int, overviews: int) -> str:
    for candidate in range(level + 1, overviews + 1):
        if pixels / 4 ** (candidate - level) <= limit:
            return f"ask for overview_level {candidate} or a smaller wkt area"
    return "ask for a smaller wkt area"


def plan_reads(items: list[dict[str, Any]], area: shapely.Geometry | None, level: int,
               max_pixels: int) -> list[Plan]:
    """What to read of each item; TooLarge before anything is read if one is over the limit."""
    plans = []
    for item in items:
        assets = item.get("assets") or {}
        if LANDCOVER_ASSET not in assets:
            continue
        href = assets[LANDCOVER_ASSET]["href"]
        overviews = _overview_count(href)
        if level > overviews:
            raise InvalidRequest(f"overview_level: {level}, but the COGs of {item['id']} have "
                                 f"{overviews} overview levels (1-{overviews})")
        with _open(href, level) as src:
            window = _window(src, area)
        cloud = assets.get(CLOUDMASK_ASSET, {}).get("href")
        plan = Plan(item, href, cloud, level, window)
        if plan.pixels > max_pixels:
            rows, cols = int(plan.window.height), int(plan.window.width)  # type: ignore[union-attr]
            raise TooLarge(
                f"the segmentation of {item['id']} would be {rows} x {cols} = {plan.pixels} "
                f"pixels, over the server's limit of {max_pixels} pixels a raster ({LIMIT_NAME})"
                f": {_suggestion(plan.pixels, level, max_pixels, overviews)}")
        plans.append(plan)
    return plans


def _outside(src: Any, window: Window, area: shapely.Geometry) -> np.ndarray:
    """Pixels of the window whose centres fall outside the area (the area in the file's CRS)."""
    local = transform_geom(WGS84, src.crs, shapely.geometry.mapping(area))
    return geometry_mask([local], out_shape=(int(window.height), int(window.width)),
                         transform=src.window_transform(window))


def read(plan: Plan, area: shapely.Geometry | None) -> Rasters:
    """The land cover (CLC grid codes, 0 outside the area) and the cloud mask of a plan."""
    assert plan.window is not None
    with _open(plan.landcover, plan.overview_level) as src:
        classes = src.read(1, window=plan.window)
        outside = _outside(src, plan.window, area) if area is not None else None
        crs = src.crs.to_string()
        transform = tuple(src.window_transform(plan.window))[:6]
    cloud = None
    if plan.cloudmask:
        with _open(plan.cloudmask, plan.overview_level) as src:
            values = src.read(1, window=plan.window)
        cloud = np.isin(values, cm.OBSCURED).astype(np.uint8)
    if outside is not None:
        classes = np.where(outside, 0, classes)
        if cloud is not None:
            cloud = np.where(outside, 0, cloud)
    return Rasters(classes, cloud, crs, transform)
