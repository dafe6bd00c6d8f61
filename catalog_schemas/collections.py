"""STAC collections published by EarthSignature."""

from __future__ import annotations

from datetime import UTC, datetime

import pystac
from pystac.extensions.item_assets import ItemAssetsExtension  # noqa: F401  (registers hooks)
from pystac.extensions.render import Render, RenderExtension

from catalog_schemas import clc

LANDCOVER_COLLECTION_ID = "landcover"
LANDCOVER_ASSET = "landcover"
CLC_COLORMAP_NAME = "clc"

# Europe, generously: the footprints of the Sentinel-2 tiles the service watches.
EUROPE_BBOX = [-32.0, 27.0, 45.0, 72.0]


def classification_classes() -> list[dict]:
    """The classification extension's ``classification:classes`` for the landcover asset."""
    return [
        {
            "value": c.grid_code,
            "name": f"clc-{c.clc_code}",
            "description": c.name,
            "color_hint": c.hex_color,
        }
        for c in clc.clc_classes()
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
    collection.summaries.add("classification:classes", classification_classes())
    collection.summaries.add("constellation", ["sentinel-2"])
    collection.extra_fields["item_assets"] = {
        LANDCOVER_ASSET: {
            "type": pystac.MediaType.COG,
            "roles": ["data"],
            "title": "CORINE land cover (grid codes 1-44, 0 nodata)",
        }
    }
    renders = RenderExtension.ext(collection, add_if_missing=True)
    renders.apply(
        {
            LANDCOVER_ASSET: Render.create(
                assets=[LANDCOVER_ASSET],
                colormap_name=CLC_COLORMAP_NAME,
                resampling="nearest",
                minmax_zoom=[8, 16],
                title="CORINE land cover",
            )
        }
    )
    return collection
