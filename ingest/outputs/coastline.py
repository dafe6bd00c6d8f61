"""Marine or inland water: water pixels outside every country's land become sea (CLC 523).

A land-cover network sees water, not whose water it is; CORINE tells inland water bodies (512)
from sea and ocean (523). The coastline is Natural Earth's 1:110m countries (public domain,
``naturalearth_lowres`` in pyogrio's test fixtures, the same source as the Europe AOI): water
inside a country's outline is inland (lakes, rivers, reservoirs), water outside it is the sea.
At 1:110m the outline is a few kilometres off in places, so a strip of coastal water may be
called inland and a harbour basin marine; lagoons and estuaries (521, 522) are not told apart.
The land mask is drawn at ``CELL_PX`` pixels per cell (100 m at 10 m): the outline is far
coarser than that, and a full tile's mask stays 1.2 MB.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import rasterize
from rasterio.warp import transform_bounds, transform_geom
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry

from catalog_schemas import clc
from ingest.discovery.aoi import FIXTURE

CELL_PX = 10
SOURCE = "Natural Earth 1:110m countries (public domain) as the coastline"
# The MLM hyperparameter (under ``refinements``) naming the water codes inland and at sea
# (inference/dynamicworld.py): a model that carries it gets this refinement.
REFINEMENT = "coastline-marine-water"


@cache
def land() -> BaseGeometry:
    """Every country's outline, merged (lon/lat)."""
    import pyogrio

    shp = Path(pyogrio.__file__).parent / FIXTURE
    _meta, _fids, geometry, _fields = pyogrio.raw.read(shp, columns=[])
    merged = shapely.union_all([shapely.from_wkb(g) for g in geometry])
    shapely.prepare(merged)
    return merged


def land_mask(crs: CRS, transform: Affine, shape: tuple[int, int], cell_px: int = CELL_PX
              ) -> np.ndarray:
    """bool [ceil(h / cell_px), ceil(w / cell_px)]: cells whose centre is on land."""
    height, width = shape
    coarse = (-(-height // cell_px), -(-width // cell_px))
    coarse_transform = transform * Affine.scale(cell_px)
    left, top = transform * (0, 0)
    right, bottom = transform * (width, height)
    lonlat = transform_bounds(crs, "EPSG:4326", min(left, right), min(top, bottom),
                              max(left, right), max(top, bottom), densify_pts=21)
    # A little beyond the product: cells at its edge are decided by their centres.
    near = land().intersection(box(*lonlat).buffer(0.05))
    if near.is_empty:
        return np.zeros(coarse, dtype=bool)
    geometry = transform_geom("EPSG:4326", crs, mapping(near))
    return rasterize([(geometry, 1)], out_shape=coarse, transform=coarse_transform,
                     fill=0, dtype="uint8").astype(bool)


def refine_water(classes: np.ndarray, hyperparameters: dict, crs: CRS, transform: Affine
                 ) -> int | None:
    """The model's coastline refinement on a grid of CLC grid codes (in place): pixels moved
    to the sea, or None when the model asks for none."""
    codes = hyperparameters.get("refinements", {}).get(REFINEMENT)
    if not codes:
        return None
    return mark_marine_water(classes, crs, transform, clc.grid_code_of(codes["inland"]),
                             clc.grid_code_of(codes["marine"]))


def mark_marine_water(classes: np.ndarray, crs: CRS, transform: Affine, inland_value: int,
                      marine_value: int) -> int:
    """Pixels of ``inland_value`` at sea become ``marine_value`` (in place); how many."""
    water = classes == inland_value
    if not water.any():
        return 0
    on_land = land_mask(crs, transform, classes.shape)
    rows, cols = np.nonzero(water)
    at_sea = ~on_land[rows // CELL_PX, cols // CELL_PX]
    classes[rows[at_sea], cols[at_sea]] = marine_value
    return int(at_sea.sum())
