"""The land cover as polygons: sieved, vectorised, simplified, written as GeoParquet.

GeoParquet (geopandas + pyarrow) is what QGIS (GDAL >= 3.5 with Parquet) and every dataframe
tool read; each feature is one polygon of one class with its code, name and area.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import shapes, sieve
from shapely.geometry import shape

from catalog_schemas import clc


def vectorise(classes: np.ndarray, *, transform: Affine, crs: CRS,
              min_area_m2: float = 10_000.0) -> gpd.GeoDataFrame:
    """Polygons of ``classes`` (grid codes, 0 nodata), regions under ``min_area_m2`` merged.

    Sieving first merges specks into their neighbours (as CLC's minimum mapping unit does),
    which keeps the polygon count proportional to the landscape, not to pixel noise.
    """
    pixel_area = abs(transform.a * transform.e)
    min_pixels = max(1, int(round(min_area_m2 / pixel_area)))
    sieved = sieve(classes, size=min_pixels, connectivity=4) if min_pixels > 1 else classes
    sieved = np.where(classes > 0, sieved, 0).astype(np.uint8)
    records = [(int(value), shape(geom))
               for geom, value in shapes(sieved, mask=sieved > 0, transform=transform,
                                         connectivity=4)]
    tolerance = abs(transform.a)  # one pixel: removes the staircase, keeps the shape
    codes = [clc.by_grid_code(v).clc_code for v, _ in records]
    frame = gpd.GeoDataFrame(
        {
            "clc_code": np.array(codes, dtype=np.int16),
            "grid_code": np.array([v for v, _ in records], dtype=np.uint8),
            "name": [clc.by_clc_code(c).name for c in codes],
        },
        geometry=gpd.GeoSeries([g for _, g in records], crs=crs).simplify(
            tolerance, preserve_topology=True),
        crs=crs,
    )
    frame["area_m2"] = frame.geometry.area.round(1)
    return frame


def write_polygons(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False, compression="zstd", write_covering_bbox=True)
    return path
