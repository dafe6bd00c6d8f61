"""STAC collections published by EarthSignature."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pystac
from pystac.extensions.item_assets import ItemAssetsExtension  # noqa: F401  (registers hooks)
from pystac.extensions.render import Render, RenderExtension

from catalog_schemas import clc, cloudmask
from catalog_schemas.assets import (
    CLC_COLORMAP_NAME,
    CLOUDMASK_ASSET,
    CLOUDMASK_COLORMAP_NAME,
    CONFIDENCE_ASSET,
    LANDCOVER_ASSET,
    POLYGONS_ASSET,
    THUMBNAIL_ASSET,
)

LANDCOVER_COLLECTION_ID = "landcover"

# pgstac partitions a collection's items by this unit of their datetime (``collections.
# partition_trunc``; pgstac's default is one partition for everything). Searches always carry a
# date window (weeks to months) and pgstac searches partitions newest first, stopping at a full
# page, so a month prunes most of a multi-year catalog: ~28 000 items a partition at 1 M items
# over three years (docs/benchmarks.md, "Catalog at scale"). It is a database setting, not part
# of the STAC document: ``ingest.catalog.register.ensure_collection`` applies it to every
# collection (landcover and those derived from it: changes, labels).
PARTITION_TRUNC = "month"
LANDCOVER_PARTITION_TRUNC = PARTITION_TRUNC

# Europe, generously: the footprints of the Sentinel-2 tiles the service watches.
EUROPE_BBOX = [-32.0, 27.0, 45.0, 72.0]


def classification_classes(codes: Iterable[int] | None = None) -> list[dict]:
    """The classification extension's ``classification:classes`` for the landcover asset:
    the CLC classes of ``codes`` (level-3 codes; all 44 when None), in grid-code order."""
    wanted = None if codes is None else {int(c) for c in codes}
    return [
        {
            "value": c.grid_code,
            "name": f"clc-{c.clc_code}",
            "description": c.name,
            "color_hint": c.hex_color,
        }
        for c in clc.clc_classes()
        if wanted is None or c.clc_code in wanted
    ]


def landcover_collection() -> pystac.Collection:
    """The collection holding one item per (Sentinel-2 product, model version)."""
    collection = pystac.Collection(
        id=LANDCOVER_COLLECTION_ID,
        title="EarthSignature land cover",
        description=(
            "CORINE Land Cover (44 level-3 classes) segmentations of Sentinel-2 L2A products "
            "over Europe, one item per product and model version, as Cloud-Optimized GeoTIFFs."
        ),
        extent=pystac.Extent(
            pystac.SpatialExtent([EUROPE_BBOX]),
            pystac.TemporalExtent([[datetime(2015, 6, 23, tzinfo=UTC), None]]),
        ),
        license="CC-BY-4.0",
        keywords=["land cover", "CORINE", "Sentinel-2", "segmentation"],
        providers=[
            pystac.Provider(
                name="EarthSignature",
                roles=[pystac.ProviderRole.PROCESSOR, pystac.ProviderRole.HOST],
            ),
            pystac.Provider(
                name="European Space Agency / Copernicus",
                roles=[pystac.ProviderRole.PRODUCER, pystac.ProviderRole.LICENSOR],
                url="https://sentinel.esa.int/web/sentinel/missions/sentinel-2",
            ),
        ],
    )
    # pystac drops summary lists longer than 25 by default: the 44 classes must stay.
    collection.summaries = pystac.Summaries({
        "classification:classes": classification_classes(),
        "constellation": ["sentinel-2"],
        "cloudmask:classes": [
            {"value": c.value, "name": c.name, "description": c.description,
             "color_hint": c.hex_color} for c in cloudmask.CLOUD_CLASSES],
    }, maxcount=1000)
    collection.extra_fields["item_assets"] = item_assets()
    renders = RenderExtension.ext(collection, add_if_missing=True)
    renders.apply(
        {
            LANDCOVER_ASSET: Render.create(
                assets=[LANDCOVER_ASSET],
                colormap_name=CLC_COLORMAP_NAME,
                resampling="nearest",
                minmax_zoom=[8, 16],
                title="CORINE land cover",
            ),
            CLOUDMASK_ASSET: Render.create(
                assets=[CLOUDMASK_ASSET],
                colormap_name=CLOUDMASK_COLORMAP_NAME,
                resampling="nearest",
                minmax_zoom=[8, 16],
                title="Cloud mask",
            ),
        }
    )
    return collection


def item_assets() -> dict[str, dict]:
    """What every item of the collection carries (the item-assets convention of STAC 1.1)."""
    cog = pystac.MediaType.COG
    return {
        LANDCOVER_ASSET: {"type": cog, "roles": ["data"],
                          "title": "CORINE land cover (grid codes 1-44; 0: nodata or cloud)"},
        CONFIDENCE_ASSET: {"type": cog, "roles": ["data", "quality"],
                       "title": "Confidence of the land-cover class (0-100; 255: nodata)"},
        CLOUDMASK_ASSET: {"type": cog, "roles": ["data", "cloud"],
                          "title": "Cloud mask (1 clear, 2 cloud, 3 thin cloud, 4 shadow, "
                                   "5 snow)"},
        POLYGONS_ASSET: {"type": "application/vnd.apache.parquet", "roles": ["data"],
                     "title": "Land-cover polygons (GeoParquet)"},
        THUMBNAIL_ASSET: {"type": pystac.MediaType.PNG, "roles": ["thumbnail"],
                      "title": "Quicklook in CLC colours"},
    }
