"""API v2's answer: an item's land-cover polygons (the GeoParquet ``polygons`` asset) in WGS84,
clipped to the request's area, as a GeoJSON FeatureCollection."""

from __future__ import annotations

from typing import Any

import shapely

from catalog_schemas.assets import POLYGONS_ASSET
from infra.grpc_api.queries import TooLarge
from tiler.paths import AssetRoots
from tiler.vectors import ItemPolygons, feature_collection, read_polygons

LIMIT_NAME = "EARTHSIG_GRPC_MAX_POLYGONS"


def item_polygons(item: dict[str, Any], area: shapely.Geometry | None, roots: AssetRoots,
                  max_polygons: int) -> dict[str, Any] | None:
    """The item's polygons within ``area`` (its whole footprint when None), or None when it
    has no polygons asset; TooLarge over ``max_polygons``."""
    asset = (item.get("assets") or {}).get(POLYGONS_ASSET)
    if not asset:
        return None
    bounds = area.bounds if area is not None else tuple(item["bbox"])
    part = read_polygons(item["id"], asset["href"], bounds, roots)
    if area is not None and not area.equals(shapely.box(*area.bounds)):
        clipped = shapely.intersection(part.geometries, area)
        part = ItemPolygons(part.item, clipped, part.codes, part.areas).where(
            ~shapely.is_empty(clipped))
    if len(part.geometries) > max_polygons:
        raise TooLarge(f"the polygons of {item['id']} are {len(part.geometries)}, over the "
                       f"server's limit of {max_polygons} a response ({LIMIT_NAME}): ask for a "
                       "smaller wkt area")
    return feature_collection([part])
