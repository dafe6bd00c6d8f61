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


def test_a_fragmented_map_gives_valid_polygons_of_each_class_area(tmp_path: Path) -> None:
    """A real model's map is fragmented (thousands of regions, holes within holes): every
    polygon is valid and non-empty, and each class keeps its sieved pixel area within the
    one-pixel simplification."""
    from rasterio.features import sieve
    from scipy.ndimage import zoom

    rng = np.random.default_rng(11)
    codes = [clc.grid_code_of(c) for c in (311, 312, 211, 231, 512, 112)]
    classes = np.asarray(codes, np.uint8)[
        zoom(rng.integers(0, len(codes), (60, 60)), 10, order=0)]
    classes[rng.random(classes.shape) < 0.02] = codes[0]  # specks for the sieve
    classes[:40, :] = 0
    frame = vectorise(classes, transform=Affine(10, 0, 300000, 0, -10, 4900020),
                      crs=CRS.from_epsg(32631), min_area_m2=1_000)
    assert len(frame) > 300
    assert frame.geometry.is_valid.all() and not frame.geometry.is_empty.any()
    sieved = sieve(classes, size=10, connectivity=4)
    sieved[classes == 0] = 0
    for grid_code in codes:
        expected = (sieved == grid_code).sum() * 100.0
        got = frame.area_m2[frame.grid_code == grid_code].sum()
        assert abs(got - expected) <= 0.01 * expected, grid_code
    assert len(vectorise(np.zeros((50, 50), np.uint8), transform=Affine(10, 0, 0, 0, -10, 0),
                         crs=CRS.from_epsg(32631))) == 0
