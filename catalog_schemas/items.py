"""Builders of EarthSignature STAC items (STAC 1.1).

One item per (Sentinel-2 product, model version): the product's footprint and time, our assets
(land cover, confidence, cloud mask, polygons, quicklook) and statistics. Extensions:
projection, raster, classification, file, processing, eo and the project's ``clc`` (declared)
and ``earthsig`` (not declared: see :mod:`catalog_schemas.earthsig_extension`); the model is
``earthsig:model`` and a ``derived_from`` link to its MLM document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pystac
from pystac.extensions.classification import Classification, ClassificationExtension
from pystac.extensions.eo import EOExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension

from catalog_schemas import cloudmask
from catalog_schemas.assets import (
    CLOUDMASK_ASSET,
    CLOUDMASK_NODATA,
    CONFIDENCE_ASSET,
    CONFIDENCE_NODATA,
    LANDCOVER_ASSET,
    LANDCOVER_NODATA,
    POLYGONS_ASSET,
    THUMBNAIL_ASSET,
)
from catalog_schemas.clc_extension import ClcExtension
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID, classification_classes
from catalog_schemas.earthsig_extension import EarthsigExtension
from catalog_schemas.schema_uris import PROCESSING_SCHEMA

SOFTWARE_VERSION = "0.1.0"
PARQUET = "application/vnd.apache.parquet"


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


@dataclass(frozen=True)
class PublishedFile:
    href: str
    size: int
    checksum: str  # multihash, hex: "1220" + sha256


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    href: str | None = None  # the model's metadata document, for the derived_from link
    software: dict[str, str] = field(default_factory=dict)  # runtime name -> version
    # CLC level-3 codes the model can write: the item's classification:classes (None: all 44)
    classes: tuple[int, ...] | None = None
    # Where the model's weights come from, as its MLM document says (pretrained models).
    license: str | None = None
    attribution: str | None = None
    citation: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


def landcover_item_id(product_id: str, model_name: str, model_version: str) -> str:
    """Deterministic: one item per (product, model version); re-running upserts it."""
    return f"{product_id}_{model_name}_v{model_version}"


def _base_properties(item: pystac.Item, source: pystac.Item, model: ModelInfo,
                     processed: datetime) -> None:
    props = item.properties
    props.update({
        "title": f"Land cover of {source.id}",
        # pgstac's free-text search looks at descriptions: say what a user would search for.
        "description": (f"CORINE land cover of Sentinel-2 product {source.id} by model "
                        f"{model.name} version {model.version}"),
        "constellation": source.properties.get("constellation", "sentinel-2"),
        "platform": source.properties.get("platform"),
        "instruments": source.properties.get("instruments", ["msi"]),
    })
    earthsig = EarthsigExtension.ext(item)
    earthsig.source_product = source.id
    earthsig.model = model.ref
    props.update({
        "processing:level": "L3",
        "processing:lineage": f"Segmented from Sentinel-2 product {source.id} with {model.ref}",
        "processing:software": {"earthsignature": SOFTWARE_VERSION, **model.software},
        "processing:datetime": processed.isoformat().replace("+00:00", "Z"),
    })
    # The weights' terms, when the model's MLM document names them (pretrained models).
    earthsig.model_license = model.license or None
    earthsig.model_attribution = model.attribution or None
    earthsig.model_citation = model.citation or None
    for key in ("mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square", "grid:code",
                "s2:processing_baseline"):
        if key in source.properties:
            props[key] = source.properties[key]


def landcover_item(
    *,
    source: pystac.Item,
    source_href: str,
    model: ModelInfo,
    files: dict[str, PublishedFile],
    grid: Grid,
    statistics: dict[str, object],
    processed: datetime | None = None,
    lineage_notes: tuple[str, ...] = (),
) -> pystac.Item:
    """The item of one product and model version; ``files`` keyed by asset name;
    ``lineage_notes`` add to its lineage (how its cloud mask was made...)."""
    item = pystac.Item(
        id=landcover_item_id(source.id, model.name, model.version),
        geometry=source.geometry,
        bbox=source.bbox,
        datetime=source.datetime,
        properties={},
        collection=LANDCOVER_COLLECTION_ID,
    )
    _base_properties(item, source, model, processed or datetime.now(UTC))
    item.properties.update(statistics)
    for note in lineage_notes:
        item.properties["processing:lineage"] += f"; {note}"
    # Not MLM: that extension describes a model (its inputs, outputs and weights; the schema
    # requires them), which the derived_from link's MLM document does; an item is its output.
    item.stac_extensions.append(PROCESSING_SCHEMA)
    ClcExtension.add_to(item)  # the statistics' clc:* properties
    EOExtension.add_to(item)
    item.add_link(pystac.Link("derived_from", source_href, pystac.MediaType.JSON,
                              title=f"Sentinel-2 product {source.id}"))
    if model.href:
        item.add_link(pystac.Link("derived_from", model.href, pystac.MediaType.JSON,
                                  title=f"Model {model.ref}"))
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = f"EPSG:{grid.epsg}"
    proj.shape = list(grid.shape)
    proj.transform = list(grid.transform[:6])
    proj.bbox = list(grid.bbox)
    for key, published in files.items():
        asset = ASSET_BUILDERS[key](published.href)
        item.add_asset(key, asset)  # extensions need the asset's owner
        EXTENSION_SETTERS.get(key, _no_extension)(asset, grid)
        if key == LANDCOVER_ASSET and model.classes is not None:
            # Only what this model can write: category search and legends offer nothing else.
            ClassificationExtension.ext(asset).classes = [
                Classification.create(**c) for c in classification_classes(model.classes)]
        file_ext = FileExtension.ext(asset, add_if_missing=True)
        file_ext.size = published.size
        file_ext.checksum = published.checksum
    return item


def _raster(asset: pystac.Asset, grid: Grid, nodata: int, unit: str | None = None) -> None:
    band = RasterBand.create(nodata=nodata, data_type=DataType.UINT8,
                             spatial_resolution=abs(grid.transform[0]), unit=unit)
    RasterExtension.ext(asset, add_if_missing=True).bands = [band]


def _landcover_ext(asset: pystac.Asset, grid: Grid) -> None:
    _raster(asset, grid, nodata=LANDCOVER_NODATA)
    ClassificationExtension.ext(asset, add_if_missing=True).classes = [
        Classification.create(**c) for c in classification_classes()]


def _confidence_ext(asset: pystac.Asset, grid: Grid) -> None:
    _raster(asset, grid, nodata=CONFIDENCE_NODATA, unit="percent")


def _cloudmask_ext(asset: pystac.Asset, grid: Grid) -> None:
    _raster(asset, grid, nodata=CLOUDMASK_NODATA)
    ClassificationExtension.ext(asset, add_if_missing=True).classes = [
        Classification.create(value=c.value, name=c.name, description=c.description,
                              color_hint=c.hex_color) for c in cloudmask.CLOUD_CLASSES]


def _no_extension(asset: pystac.Asset, grid: Grid) -> None:
    pass


def _asset(title: str, media_type: str, roles: list[str]) -> Callable[[str], pystac.Asset]:
    return lambda href: pystac.Asset(href, title=title, media_type=media_type, roles=roles)


ASSET_BUILDERS = {
    LANDCOVER_ASSET: _asset("CORINE land cover (grid codes 1-44; 0: nodata or cloud)",
                            pystac.MediaType.COG, ["data"]),
    CONFIDENCE_ASSET: _asset("Confidence of the land-cover class (0-100; 255: nodata)",
                         pystac.MediaType.COG, ["data", "quality"]),
    CLOUDMASK_ASSET: _asset("Cloud mask (1 clear, 2 cloud, 3 thin cloud, 4 shadow, 5 snow)",
                        pystac.MediaType.COG, ["data", "cloud"]),
    POLYGONS_ASSET: _asset("Land-cover polygons (GeoParquet: clc_code, name, area_m2)", PARQUET,
                       ["data"]),
    THUMBNAIL_ASSET: _asset("Quicklook in CLC colours", pystac.MediaType.PNG, ["thumbnail"]),
}
EXTENSION_SETTERS = {
    LANDCOVER_ASSET: _landcover_ext,
    CONFIDENCE_ASSET: _confidence_ext,
    CLOUDMASK_ASSET: _cloudmask_ext,
}
