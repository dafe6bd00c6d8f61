"""Is a product's metadata believable, and does it agree with its rasters?

Every layout's item passes here before anything is read, so absurd metadata fails at once
with the product and the problem named (an ``InvalidProductError``, never retried) instead of
becoming an item in the wrong place or time:

- a footprint that is missing, empty or outside longitude/latitude ranges is refused;
- a footprint across the 180th meridian (a ring whose longitudes jump from +179 to -179) is
  split into the two-part MultiPolygon and west > east bbox that STAC prescribes, so it is
  found where it is, not around the whole globe;
- an acquisition time in the future, or before Sentinel-2 flew, is refused;
- a CRS the item declares (``proj:code``/``proj:epsg``) must be the one of its band files, and
  the rasters must lie inside the declared footprint: files mislabelled or in another zone
  would otherwise publish pixels far from where search finds them.
"""

from __future__ import annotations

import datetime as dt
import math

import antimeridian
import pystac
import shapely
from rasterio.coords import BoundingBox
from rasterio.crs import CRS
from rasterio.warp import transform_geom
from shapely.geometry import box, mapping, shape

from ingest.errors import InvalidProductError

# Sentinel-2A's launch: no acquisition can be older.
FIRST_ACQUISITION = dt.datetime(2015, 6, 23, tzinfo=dt.UTC)
# Clock skew between a provider and us, and products stamped at the end of their day.
FUTURE_SLACK = dt.timedelta(days=1)
# Rasters and footprint are compared loosely: footprints are simplified (and SAFE ones trace
# only the valid data), so they need only to overlap the raster's own outline.
GEOMETRY_TYPES = {"Polygon", "MultiPolygon"}


def check_metadata(item: pystac.Item, *, now: dt.datetime | None = None) -> pystac.Item:
    """Refuse absurd time or footprint; split an antimeridian footprint. Returns ``item``."""
    _check_time(item, now or dt.datetime.now(dt.UTC))
    geometry = _footprint(item)
    if crosses_antimeridian(geometry):
        # fix_winding: a clockwise ring (common in the wild) is reversed, not taken for a
        # polygon around a pole.
        fixed = antimeridian.fix_shape(shape(geometry), fix_winding=True)
        item.geometry = fixed
        item.bbox = list(antimeridian.bbox(shape(fixed)))
    return item


def _check_time(item: pystac.Item, now: dt.datetime) -> None:
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        raise InvalidProductError(f"{item.id}: item has no datetime")
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    if when > now + FUTURE_SLACK:
        raise InvalidProductError(
            f"{item.id}: acquisition time {when.isoformat()} is in the future")
    if when < FIRST_ACQUISITION:
        raise InvalidProductError(
            f"{item.id}: acquisition time {when.isoformat()} is before Sentinel-2's first "
            f"acquisition ({FIRST_ACQUISITION.date().isoformat()})")


def _footprint(item: pystac.Item) -> dict:
    geometry = item.geometry
    if not geometry or not geometry.get("coordinates"):
        raise InvalidProductError(f"{item.id}: the item has no footprint (empty geometry)")
    if geometry.get("type") not in GEOMETRY_TYPES:
        raise InvalidProductError(f"{item.id}: footprint is a {geometry.get('type')}, "
                                  f"not a polygon")
    try:
        parsed = shape(geometry)
    except (ValueError, TypeError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise InvalidProductError(f"{item.id}: footprint is not a valid polygon: {exc}") \
            from exc
    if parsed.is_empty or parsed.area == 0:
        raise InvalidProductError(f"{item.id}: the item has no footprint (empty geometry)")
    minx, miny, maxx, maxy = parsed.bounds
    if not all(math.isfinite(v) for v in parsed.bounds) or minx < -180 or maxx > 180 \
            or miny < -90 or maxy > 90:
        raise InvalidProductError(f"{item.id}: footprint {list(parsed.bounds)} is outside "
                                  f"longitude -180..180 / latitude -90..90")
    return geometry


def _rings(geometry: dict) -> list[list]:
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" \
        else geometry["coordinates"]
    return [ring for polygon in polygons for ring in polygon]


def crosses_antimeridian(geometry: dict) -> bool:
    """A ring that jumps more than 180° of longitude between vertices goes the short way,
    across the 180th meridian (no Sentinel-2 footprint spans half the globe)."""
    return any(abs(b[0] - a[0]) > 180 for ring in _rings(geometry)
               for a, b in zip(ring, ring[1:], strict=False))


def raster_footprint(crs: CRS, bounds: BoundingBox) -> shapely.Geometry:
    """The outline of a raster in longitude/latitude (split at the antimeridian if needed)."""
    outline = box(*bounds).segmentize(max(bounds.right - bounds.left,
                                          bounds.top - bounds.bottom) / 16)
    lonlat = transform_geom(crs, "EPSG:4326", mapping(outline))
    if crosses_antimeridian(lonlat):
        return shape(antimeridian.fix_shape(shape(lonlat), fix_winding=True))
    return shape(lonlat)


def declared_crs(item: pystac.Item, asset: pystac.Asset) -> CRS | None:
    """The CRS the metadata claims for a band: the asset's own, else the item's."""
    for fields in (asset.extra_fields, item.properties):
        code = fields.get("proj:code") or (
            f"EPSG:{fields['proj:epsg']}" if fields.get("proj:epsg") else None)
        if code:
            try:
                return CRS.from_user_input(code)
            except Exception as exc:  # rasterio's CRSError and pyproj's own
                raise InvalidProductError(f"{item.id}: unknown CRS {code!r} in the metadata") \
                    from exc
    return None


def check_raster_place(item: pystac.Item, band: str, crs: CRS, bounds: BoundingBox) -> None:
    """The band file must lie inside the footprint the item declares."""
    outline = raster_footprint(crs, bounds)
    footprint = shape(item.geometry)
    if not outline.intersects(footprint):
        raise InvalidProductError(
            f"{item.id}: band {band} ({crs}, bounds {tuple(round(v) for v in bounds)}) lies "
            f"outside the item's footprint {[round(v, 4) for v in footprint.bounds]}: "
            f"wrong CRS or georeferencing")
