"""The land cover as vectors for web maps: each item's polygons asset (GeoParquet, sieved and
simplified by the pipeline) read for an area, as GeoJSON (the original API v2's answer: the
polygons of an area) and as Mapbox vector tiles (MapLibre, Leaflet, QGIS).

An area of a collection is drawn the way its raster mosaic is: items newest first, and an
older item only where no newer one has a polygon. Each feature carries its class code, name
and CLC colour, so a client styles it without a legend of its own. Reading goes through the
same asset roots as every other read; the GeoParquet's bbox covering column lets pyarrow skip
the row groups outside the area.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mapbox_vector_tile
import morecantile
import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import shapely
from rasterio.crs import CRS
from rasterio.warp import transform, transform_bounds

from catalog_schemas import clc
from catalog_schemas.assets import POLYGONS_ASSET
from tiler.errors import AssetMissingError
from tiler.paths import AssetRoots

WGS84 = "EPSG:4326"
LAYER = "landcover"
EXTENT = 4096  # MVT's usual grid
# Below this zoom one tile spans several products and tens of thousands of polygons.
VECTOR_MINZOOM = 11
WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class ItemPolygons:
    """One item's polygons within an area, in WGS84: geometries, CLC codes and areas."""

    item: str
    geometries: np.ndarray
    codes: np.ndarray
    areas: np.ndarray

    def where(self, keep: np.ndarray) -> ItemPolygons:
        return ItemPolygons(self.item, self.geometries[keep], self.codes[keep], self.areas[keep])


def _file_crs(path: str) -> CRS:
    geo = json.loads(pq.read_schema(path).metadata[b"geo"])
    column = geo["columns"][geo["primary_column"]]
    crs = column.get("crs")
    return CRS.from_user_input(json.dumps(crs) if isinstance(crs, dict) else crs or WGS84)


def reproject(geometries: np.ndarray, src: CRS | str, dst: CRS | str) -> np.ndarray:
    """Every vertex at once through GDAL's transformer (GeoParquet has no pyproj here)."""
    def move(coords: np.ndarray) -> np.ndarray:
        if not len(coords):
            return coords
        xs, ys = transform(src, dst, coords[:, 0], coords[:, 1])
        return np.column_stack([xs, ys])
    return shapely.transform(geometries, move)


def read_polygons(item: str, href: str, bounds: Bounds, roots: AssetRoots) -> ItemPolygons:
    """The polygons of the GeoParquet at ``href`` within ``bounds`` (WGS84), clipped to them,
    in WGS84; only the rows whose covering bbox meets the area are read."""
    path = roots.check(href)
    crs = _file_crs(path)
    x0, y0, x1, y1 = transform_bounds(WGS84, crs, *bounds, densify_pts=21)
    near = ((pc.field("bbox", "xmax") >= x0) & (pc.field("bbox", "xmin") <= x1)
            & (pc.field("bbox", "ymax") >= y0) & (pc.field("bbox", "ymin") <= y1))
    table = ds.dataset(path, format="parquet").to_table(
        columns=["clc_code", "area_m2", "geometry"], filter=near)
    geometries = reproject(shapely.from_wkb(table["geometry"].to_numpy(zero_copy_only=False)),
                           crs, WGS84)
    clipped = shapely.intersection(geometries, shapely.box(*bounds))
    found = ItemPolygons(item, clipped, table["clc_code"].to_numpy(),
                         table["area_m2"].to_numpy())
    return found.where(~shapely.is_empty(clipped))


def area_polygons(items: Sequence[Mapping[str, Any]], bounds: Bounds, roots: AssetRoots
                  ) -> list[ItemPolygons]:
    """Each item's polygons within ``bounds``, items newest first, an older item's only where
    no newer item has one (the mosaic's rule)."""
    found: list[ItemPolygons] = []
    covered = None
    for item in items:
        asset = (item.get("assets") or {}).get(POLYGONS_ASSET)
        if not asset:
            continue
        try:
            part = read_polygons(item["id"], asset["href"], bounds, roots)
        except AssetMissingError:
            continue  # re-processed meanwhile: its older run is gone, the new one lands soon
        if not len(part.geometries):
            continue
        if covered is not None:
            rest = shapely.difference(part.geometries, covered)
            part = ItemPolygons(part.item, rest, part.codes, part.areas)
            part = part.where(~shapely.is_empty(rest))
        found.append(part)
        union = shapely.union_all(part.geometries)
        covered = union if covered is None else shapely.union(covered, union)
    return found


def _properties(code: int, area: float, item: str) -> dict[str, object]:
    """What a client styles and labels a polygon by: class, name, CLC colour (the area is the
    whole polygon's, before clipping)."""
    cls = clc.by_clc_code(int(code))
    return {"clc_code": cls.clc_code, "name": cls.name, "color": f"#{cls.hex_color}",
            "area_m2": float(area), "item": item}


def feature_collection(parts: list[ItemPolygons]) -> dict[str, object]:
    """GeoJSON of the polygons, each with its class code, name, colour, area and item."""
    features = []
    for part in parts:
        for geometry, code, area in zip(part.geometries, part.codes, part.areas, strict=True):
            features.append({"type": "Feature", "geometry": shapely.geometry.mapping(geometry),
                             "properties": _properties(code, area, part.item)})
    return {"type": "FeatureCollection", "features": features}


def tile_bounds(tile: morecantile.Tile) -> Bounds:
    return tuple(WEB_MERCATOR.bounds(tile))  # type: ignore[return-value]


def vector_tile(parts: list[ItemPolygons], tile: morecantile.Tile) -> bytes:
    """The polygons as one MVT layer ``landcover`` of ``tile`` (Web Mercator)."""
    box = WEB_MERCATOR.xy_bounds(tile)
    features = []
    for part in parts:
        projected = reproject(part.geometries, WGS84, "EPSG:3857")
        for geometry, code, area in zip(projected, part.codes, part.areas, strict=True):
            features.append({"geometry": geometry,
                             "properties": _properties(code, area, part.item)})
    return mapbox_vector_tile.encode(
        [{"name": LAYER, "features": features}],
        default_options={"quantize_bounds": (box.left, box.bottom, box.right, box.top),
                         "extents": EXTENT})
