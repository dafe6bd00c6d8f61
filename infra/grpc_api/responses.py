"""The old API's response messages from STAC items and the rasters or polygons read for them.

``quicklook`` is a URL: the thumbnail asset's href as the STAC API answers it (the tiler's
``/assets/`` URL where the stack knows it, ``EARTHSIG_ASSET_PUBLIC_URL``), else the asset
store's path as registered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import shapely
from google.protobuf.timestamp_pb2 import Timestamp

from catalog_schemas.assets import THUMBNAIL_ASSET
from catalog_schemas.earthsig_extension import SOURCE_PRODUCT
from infra.grpc_api.generated.snapearth.api.v1 import segmentation_pb2 as v1
from infra.grpc_api.generated.snapearth.api.v2 import segmentation_pb2 as v2
from infra.grpc_api.geobuf import encode
from infra.grpc_api.rasters import Rasters
from stac_api.asset_urls import AssetUrls


def raster(values: np.ndarray) -> v1.Raster:
    rows, cols = values.shape
    return v1.Raster(height=rows, width=cols, data=values.ravel().tolist())


def _timestamp(item: dict[str, Any]) -> Timestamp | None:
    moment = (item.get("properties") or {}).get("datetime")
    if not moment:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(moment.replace("Z", "+00:00")))
    return stamp


def _common(item: dict[str, Any], urls: AssetUrls | None) -> dict[str, Any]:
    thumbnail = ((item.get("assets") or {}).get(THUMBNAIL_ASSET) or {}).get("href", "")
    return {
        "wkt": shapely.geometry.shape(item["geometry"]).wkt if item.get("geometry") else "",
        "product_id": (item.get("properties") or {}).get(SOURCE_PRODUCT, ""),
        "quicklook": urls.href(thumbnail) if urls and thumbnail else thumbnail,
        "item_id": item["id"],
        "datetime": _timestamp(item),
    }


def v1_response(item: dict[str, Any], rasters: Rasters, urls: AssetUrls | None
                ) -> v1.SegmentationResponse:
    return v1.SegmentationResponse(
        segmentation=raster(rasters.classes),
        cloud_mask=raster(rasters.cloud) if rasters.cloud is not None else None,
        crs=rasters.crs, transform=list(rasters.transform), **_common(item, urls))


def v2_response(item: dict[str, Any], polygons: dict[str, Any] | None, urls: AssetUrls | None
                ) -> v2.SegmentationResponse:
    return v2.SegmentationResponse(
        polygons=encode(polygons) if polygons is not None else None, **_common(item, urls))
