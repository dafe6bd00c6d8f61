"""Vectorising: one polygon per region, specks merged, areas in square metres."""

from pathlib import Path

import geopandas as gpd
import numpy as np
from affine import Affine
from rasterio.crs import CRS

from catalog_schemas import clc
from ingest.outputs.vectors import vectorise, write_polygons

WATER, FOREST = clc.grid_code_of(512), clc.grid_code_of(311)


def test_regions_become_polygons(tmp_path: Path) -> None:
    classes = np.full((200, 200), FOREST, np.uint8)
    classes[50:150, 50:150] = WATER  # a 1 km square lake
    classes[10:12, 10:12] = WATER  # a 4-pixel speck, under the 1 ha minimum
    classes[:, 190:] = 0  # nodata strip
    frame = vectorise(classes, transform=Affine(10, 0, 300000, 0, -10, 4900020),
                      crs=CRS.from_epsg(32631), min_area_m2=10_000)
    assert sorted(frame.clc_code.tolist()) == [311, 512]
    lake = frame[frame.clc_code == 512].iloc[0]
    assert lake.area_m2 == 1_000_000.0 and lake["name"] == "Water bodies"
    assert frame.area_m2.sum() == 190 * 200 * 100.0
    written = gpd.read_parquet(write_polygons(frame, tmp_path / "p.parquet"))
    assert written.crs.to_epsg() == 32631 and len(written) == 2
