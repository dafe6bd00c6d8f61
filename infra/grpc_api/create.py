"""CreateProduct's request as an :class:`ExternalSegmentation` for the publisher.

``data`` is a GeoJSON Feature (geobuf): geometry = the footprint (WGS84), properties
``product_id`` and ``datetime`` (RFC 3339) required, ``proj:epsg`` and ``proj:transform`` (the
rasters' grid, six GDAL-order coefficients) optional; without them the rasters span the
footprint's bounds in its UTM zone (where a Sentinel-2 tile's grid is). ``model`` and
``model_version`` name the producer (default ``external``, ``1``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from rasterio.warp import transform_bounds

from infra.grpc_api.geobuf import GeobufError, decode
from infra.grpc_api.queries import InvalidRequest, TooLarge
from ingest.catalog.external import ExternalSegmentation

RESERVED = ("product_id", "datetime", "proj:epsg", "proj:transform", "model", "model_version")


def array_of(raster: Any, name: str, max_pixels: int) -> np.ndarray:
    """A Raster message as a uint8 grid; InvalidRequest when its sizes disagree."""
    rows, cols, values = int(raster.height), int(raster.width), raster.data
    if rows <= 0 or cols <= 0:
        raise InvalidRequest(f"{name}: height and width must be positive, not {rows} x {cols}")
    if rows * cols > max_pixels:
        raise TooLarge(f"{name}: {rows} x {cols} pixels, over the server's limit of "
                       f"{max_pixels} (EARTHSIG_GRPC_MAX_RASTER_PIXELS)")
    if len(values) != rows * cols:
        raise InvalidRequest(f"{name}: {len(values)} values for {rows} x {cols} pixels")
    array = np.asarray(values, dtype=np.uint32).reshape(rows, cols)
    if array.size and int(array.max()) > 255:
        raise InvalidRequest(f"{name}: value {int(array.max())} is not a class")
    return array.astype(np.uint8)


def utm_epsg(lon: float, lat: float) -> int:
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def _grid(footprint: dict[str, Any], properties: dict[str, Any], shape: tuple[int, int]
          ) -> tuple[str, tuple[float, ...]]:
    epsg, transform = properties.get("proj:epsg"), properties.get("proj:transform")
    if epsg is not None or transform is not None:
        if not isinstance(epsg, int) or not isinstance(transform, list) \
                or len(transform) < 6 or not all(isinstance(v, int | float) for v in transform):
            raise InvalidRequest("data: proj:epsg (an integer) and proj:transform (six numbers) "
                                 "go together")
        return f"EPSG:{epsg}", tuple(float(v) for v in transform[:6])
    area = shapely.geometry.shape(footprint)
    centre = area.centroid
    crs = f"EPSG:{utm_epsg(centre.x, centre.y)}"
    x0, y0, x1, y1 = transform_bounds("EPSG:4326", crs, *area.bounds, densify_pts=21)
    rows, cols = shape
    return crs, ((x1 - x0) / cols, 0.0, x0, 0.0, -(y1 - y0) / rows, y1)


def _sensed(properties: dict[str, Any]) -> datetime:
    text = properties.get("datetime")
    if not isinstance(text, str):
        raise InvalidRequest("data: properties.datetime (RFC 3339) is required")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidRequest(f"data: properties.datetime {text!r} is not RFC 3339") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def segmentation_of(request: Any, max_pixels: int) -> ExternalSegmentation:
    """The request's product; InvalidRequest (or TooLarge) naming the field at fault."""
    try:
        feature = decode(request.data)
    except GeobufError as exc:
        raise InvalidRequest(f"data: {exc}") from exc
    if feature.get("type") != "Feature":
        raise InvalidRequest("data: a GeoJSON Feature (footprint and properties) is needed")
    properties = dict(feature.get("properties") or {})
    product_id = properties.get("product_id")
    if not isinstance(product_id, str) or not product_id.strip():
        raise InvalidRequest("data: properties.product_id is required")
    classes = array_of(request.segmentation, "segmentation", max_pixels)
    cloud = array_of(request.cloud_mask, "cloud_mask", max_pixels) \
        if request.HasField("cloud_mask") else None
    crs, transform = _grid(feature["geometry"], properties, classes.shape)
    return ExternalSegmentation(
        product_id=product_id.strip(), footprint=feature["geometry"],
        sensed=_sensed(properties), classes=classes, cloud=cloud, crs=crs, transform=transform,
        model=str(properties.get("model") or "external"),
        model_version=str(properties.get("model_version") or "1"),
        properties={k: v for k, v in properties.items() if k not in RESERVED})
