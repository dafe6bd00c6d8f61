"""Builders of EarthSignature STAC items (STAC 1.1; projection, raster, classification)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pystac
from pystac.extensions.classification import Classification, ClassificationExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension

from catalog_schemas.collections import (
    LANDCOVER_ASSET,
    LANDCOVER_COLLECTION_ID,
    classification_classes,
)

PROCESSING_SCHEMA = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"


@dataclass(frozen=True)
class Grid:
    """The raster grid of the published assets."""

    epsg: int
    shape: tuple[int, int]  # rows, cols
    transform: tuple[float, ...]  # the six GDAL-order affine coefficients a..f

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        a, b, c, d, e, f = self.transform[:6]
        rows, cols = self.shape
        xs = (c, c + a * cols)
        ys = (f, f + e * rows)
        return min(xs), min(ys), max(xs), max(ys)


def landcover_item_id(product_id: str, model_name: str, model_version: str) -> str:
    """Deterministic: one item per (product, model version); re-running upserts it."""
    return f"{product_id}_{model_name}_v{model_version}"


def landcover_item(
    *,
    source: pystac.Item,
    source_href: str,
    model_name: str,
    model_version: str,
    landcover_href: str,
    grid: Grid,
    processed: datetime | None = None,
) -> pystac.Item:
    """The land-cover item of one product: the source's footprint and time, our assets."""
    item = pystac.Item(
        id=landcover_item_id(source.id, model_name, model_version),
        geometry=source.geometry,
        bbox=source.bbox,
        datetime=source.datetime,
        properties={
            "title": f"Land cover of {source.id}",
            # pgstac's free-text search looks at descriptions: say what a user would search for.
            "description": (
                f"CORINE land cover of Sentinel-2 product {source.id} "
                f"by model {model_name} version {model_version}"
            ),
            "constellation": source.properties.get("constellation", "sentinel-2"),
            "platform": source.properties.get("platform"),
            "instruments": source.properties.get("instruments", ["msi"]),
            "earthsig:source_product": source.id,
            "earthsig:model": f"{model_name}:{model_version}",
            "processing:software": {"earthsignature": "0.1.0"},
            "processing:datetime": (processed or datetime.now(UTC)).isoformat(),
        },
        collection=LANDCOVER_COLLECTION_ID,
    )
    for key in ("mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square", "grid:code"):
        if key in source.properties:
            item.properties[key] = source.properties[key]
    item.stac_extensions.append(PROCESSING_SCHEMA)
    item.add_link(pystac.Link("derived_from", source_href, pystac.MediaType.JSON,
                              title=f"Sentinel-2 product {source.id}"))

    asset = pystac.Asset(
        href=landcover_href,
        media_type=pystac.MediaType.COG,
        roles=["data"],
        title="CORINE land cover (grid codes 1-44, 0 nodata)",
    )
    item.add_asset(LANDCOVER_ASSET, asset)

    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = f"EPSG:{grid.epsg}"
    proj.shape = list(grid.shape)
    proj.transform = list(grid.transform[:6])
    proj.bbox = list(grid.bbox)

    RasterExtension.ext(asset, add_if_missing=True).bands = [
        RasterBand.create(nodata=0, data_type=DataType.UINT8, spatial_resolution=grid.transform[0])
    ]
    ClassificationExtension.ext(asset, add_if_missing=True).classes = [
        Classification.create(**c) for c in classification_classes()
    ]
    return item
