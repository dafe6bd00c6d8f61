"""The demo's generated products: where README says, one landscape per place, only deliberate
changes between dates, no glacier in a lowland July (issue 22, point 1)."""

from __future__ import annotations

from datetime import date
from functools import cache

import numpy as np
import pytest
import rasterio.transform
from pyproj import Transformer
from shapely.geometry import Point

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from samples.demo import (
    BURNABLE,
    BURNT,
    DEMO_PRODUCTS,
    DEMO_SIZE,
    TOULOUSE,
    DemoProduct,
    burn_scar,
    demo_origin,
    landscape_seed,
)
from samples.s2grid import GridError, tile_grid
from samples.scene import SampleScene, generate_scene

# The time-series point README's commands ask for: the Capitole.
README_POINT = TOULOUSE


@cache
def _scene(product: DemoProduct, size: int = DEMO_SIZE) -> SampleScene:
    return generate_scene(
        product.tile, product.day, size, cloud_cover=product.cloud_cover,
        conversions=(burn_scar(size),) if product.burn else (),
        origin_m=demo_origin(product.tile, size), landscape_seed=landscape_seed(product.tile),
        lowland=True)


@cache
def _truth(product: DemoProduct) -> np.ndarray:
    return _scene(product).truth()


def _pixel(scene: SampleScene, lon: float, lat: float) -> tuple[int, int]:
    x, y = Transformer.from_crs("EPSG:4326", scene.grid.crs, always_xy=True).transform(lon, lat)
    row, col = rasterio.transform.rowcol(scene.window(10).transform, x, y)
    return int(row), int(col)


JUNE, JULY, EAST = DEMO_PRODUCTS


def test_the_toulouse_crop_is_centred_on_the_city() -> None:
    footprint = _scene(JUNE).footprint()
    assert footprint.contains(Point(*TOULOUSE))
    centre = footprint.centroid
    # Centred to the 60 m grid's step, and both dates cover the same square.
    assert abs(centre.x - TOULOUSE[0]) < 0.002 and abs(centre.y - TOULOUSE[1]) < 0.002
    assert _scene(JULY).footprint().equals(footprint)
    row, col = _pixel(_scene(JUNE), *README_POINT)
    assert abs(row - DEMO_SIZE // 2) < 6 and abs(col - DEMO_SIZE // 2) < 6  # one 60 m step


def test_the_neighbour_crop_is_the_tiles_nearest_to_the_city() -> None:
    scene = _scene(EAST)
    west, south, east, north = scene.footprint().bounds
    assert scene.window(10).transform.c == scene.grid.ul_x  # on the tile's western edge
    assert south < TOULOUSE[1] < north  # at the city's latitude
    assert 0.2 < west - TOULOUSE[0] < 0.4  # 15-30 km east of it
    assert EAST.tile == "T31TDJ" and JUNE.tile == JULY.tile == "T31TCJ"


def test_a_place_keeps_its_land_cover_except_where_the_forest_burnt() -> None:
    june, july = _truth(JUNE), _truth(JULY)
    burn = burn_scar(DEMO_SIZE)
    in_scar = np.zeros(june.shape, bool)
    in_scar[slice(*burn.rows), slice(*burn.cols)] = True
    changed = june != july
    assert not changed[~in_scar].any()  # outside the scar, every pixel keeps its class
    codes = {c: clc.grid_code_of(c) for c in (*BURNABLE, BURNT)}
    # Inside, only forest changed, and only into burnt areas; the scar is a real one.
    assert set(np.unique(june[changed])) <= {codes[c] for c in BURNABLE}
    assert set(np.unique(july[changed])) == {codes[BURNT]}
    assert changed.sum() * 100 / 10_000 >= 50  # hectares (10 m pixels: 100 m2 each)
    assert not (june == codes[BURNT]).any()


def test_the_landscape_is_drawn_from_the_place_not_the_date() -> None:
    tile, size = "T31TCJ", 256
    origin = demo_origin(tile, size)
    first, second = (generate_scene(tile, day, size, origin_m=origin, lowland=True,
                                    landscape_seed=landscape_seed(tile))
                     for day in (date(2024, 6, 15), date(2024, 9, 1)))
    assert np.array_equal(first.truth(), second.truth())
    # Noise still follows the date: two acquisitions, not one copied.
    assert not np.array_equal(first.dn("B04"), second.dn("B04"))


@pytest.mark.parametrize("product", DEMO_PRODUCTS, ids=lambda p: f"{p.tile}-{p.day}")
def test_no_glacier_or_snow_in_a_lowland_july(product: DemoProduct) -> None:
    assert not (_truth(product) == clc.grid_code_of(335)).any()
    assert not (_scene(product).cloudmask() == cm.SNOW).any()


def test_clouds_pass_over_on_the_second_date_only() -> None:
    assert (_scene(JUNE).cloudmask() == cm.CLEAR).all()
    july = _scene(JULY).cloudmask()
    assert 0.02 < (july != cm.CLEAR).mean() < 0.15
    assert (_scene(EAST).cloudmask() == cm.CLEAR).all()


def test_the_readme_point_is_clear_and_keeps_its_class() -> None:
    row, col = _pixel(_scene(JUNE), *README_POINT)
    assert _truth(JUNE)[row, col] == _truth(JULY)[row, col]
    assert _scene(JULY).cloudmask()[row, col] == cm.CLEAR


def test_a_crop_off_the_60m_grid_or_off_the_tile_is_refused() -> None:
    grid = tile_grid("T31TCJ")
    with pytest.raises(GridError, match="multiple of 60"):
        grid.window(2560.0, 10, (30.0, 0.0))
    with pytest.raises(GridError, match="leaves tile"):
        grid.window(2560.0, 10, (108_000.0, 0.0))
    moved = grid.window(2560.0, 20, (600.0, 1200.0))
    assert (moved.transform.c, moved.transform.f) == (grid.ul_x + 600.0, grid.ul_y - 1200.0)
    assert moved.size == 128
    # A place outside the tile: the crop stops at the tile's edge.
    assert grid.origin_centred_on(-5.0, 43.6, 2560.0)[0] == 0.0
