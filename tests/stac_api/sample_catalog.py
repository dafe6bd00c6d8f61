"""A small, realistic landcover catalog for the STAC API tests, and its loading into pgstac.

Two items over southern France, one per Sentinel-2 MGRS tile of UTM zone 31N (EPSG:32631):
31TEJ (Montpellier, June) and 31TFJ (Provence, July). Their footprints overlap only in a strip
near 4.3°E, so a bbox around Montpellier or Aix-en-Provence selects exactly one of them.

Their land-cover statistics are chosen so that every category query separates them: both hold
vineyards (221) but only Montpellier over 20 %; both hold a forest class but only Provence a
forest class over 20 %; only Montpellier holds sea (523), only Provence olive groves (223).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pystac
from psycopg_pool import ConnectionPool
from pypgstac.db import PgstacDB
from pypgstac.load import Loader, Methods
from pyproj import Transformer
from pystac.extensions.eo import EOExtension
from pystac.extensions.grid import GridExtension
from pystac.extensions.projection import ProjectionExtension

from catalog_schemas import landcover_stats
from catalog_schemas.assets import LANDCOVER_ASSET
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID, landcover_collection
from catalog_schemas.items import landcover_item_id
from ingest.catalog.queryables import register_queryables

UTM_31N = "EPSG:32631"
MODEL, MODEL_VERSION = "clc-unet", "1"
PIXEL = 10  # metres: the landcover COG is on the 10 m band grid of its tile
TILE_PIXELS = 10980

MONTPELLIER_BBOX = (3.80, 43.55, 3.95, 43.65)
AIX_BBOX = (5.40, 43.48, 5.50, 43.56)


@dataclass(frozen=True)
class Product:
    """The few facts about a Sentinel-2 L2A product that its landcover item carries."""

    product_id: str
    tile: str
    origin: tuple[int, int]  # upper-left corner of the MGRS tile in EPSG:32631
    sensed: datetime
    cloud_cover: float
    fractions: dict[str, float]  # CLC code -> share of the valid pixels
    valid_fraction: float = 0.97

    @property
    def item_id(self) -> str:
        """Deterministic: one item per (product, model version)."""
        return landcover_item_id(self.product_id, MODEL, MODEL_VERSION)


MONTPELLIER = Product(
    product_id="S2B_MSIL2A_20240615T103629_N0510_R008_T31TEJ_20240615T134208",
    tile="31TEJ",
    origin=(499980, 4900020),
    sensed=datetime(2024, 6, 15, 10, 36, 29, tzinfo=UTC),
    cloud_cover=3.2,
    fractions={"112": 0.30, "221": 0.25, "311": 0.05, "523": 0.40},
)
PROVENCE = Product(
    product_id="S2A_MSIL2A_20240720T103031_N0510_R108_T31TFJ_20240720T160105",
    tile="31TFJ",
    origin=(600000, 4900020),
    sensed=datetime(2024, 7, 20, 10, 30, 31, tzinfo=UTC),
    cloud_cover=27.5,
    fractions={"211": 0.10, "221": 0.10, "223": 0.15, "312": 0.35, "323": 0.30},
    valid_fraction=0.71,
)
PRODUCTS = (MONTPELLIER, PROVENCE)


def _footprint(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    """The UTM tile square as a WGS84 GeoJSON polygon (corners only: edges stay straight)."""
    to_wgs84 = Transformer.from_crs(UTM_31N, "EPSG:4326", always_xy=True)
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    ring = [list(to_wgs84.transform(x, y)) for x, y in corners]
    return {"type": "Polygon", "coordinates": [ring]}


def landcover_statistics(product: Product) -> dict[str, Any]:
    """The ``clc:`` properties the pipeline computes: codes as strings, fractions per class."""
    return {
        landcover_stats.CLASSES: sorted(product.fractions),
        landcover_stats.VALID_FRACTION: product.valid_fraction,
        **{landcover_stats.fraction_key(c): f for c, f in product.fractions.items()},
    }


def landcover_item(product: Product) -> pystac.Item:
    """The landcover item the pipeline would register for ``product``."""
    x0, y1 = product.origin
    x1, y0 = x0 + PIXEL * TILE_PIXELS, y1 - PIXEL * TILE_PIXELS
    geometry = _footprint(x0, y0, x1, y1)
    ring = geometry["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    item = pystac.Item(
        id=product.item_id,
        geometry=geometry,
        bbox=[min(lons), min(lats), max(lons), max(lats)],
        datetime=product.sensed,
        properties={
            "title": f"CORINE land cover of {product.product_id}",
            "description": f"Land-cover segmentation of Sentinel-2 tile {product.tile}.",
            "constellation": "sentinel-2",
            "earthsig:source_product": product.product_id,
            "earthsig:model": f"{MODEL}:{MODEL_VERSION}",
            **landcover_statistics(product),
        },
        collection=LANDCOVER_COLLECTION_ID,
    )
    item.stac_extensions.append(landcover_stats.SCHEMA_URI)  # the clc: properties' schema
    EOExtension.ext(item, add_if_missing=True).cloud_cover = product.cloud_cover
    GridExtension.ext(item, add_if_missing=True).code = f"MGRS-{product.tile}"
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = UTM_31N
    proj.bbox = [x0, y0, x1, y1]
    proj.shape = [TILE_PIXELS, TILE_PIXELS]
    proj.transform = [PIXEL, 0, x0, 0, -PIXEL, y1]
    item.add_asset(
        LANDCOVER_ASSET,
        pystac.Asset(
            href=f"/var/lib/earthsignature/assets/landcover/{product.item_id}/landcover.tif",
            media_type=pystac.MediaType.COG,
            roles=["data"],
            title="CORINE land cover (grid codes 1-44, 0 nodata)",
        ),
    )
    return item


def load_catalog(dsn: str, items: list[pystac.Item], *, queryables: bool = True) -> None:
    """Upsert the landcover collection, its queryables and ``items`` into pgstac at ``dsn``.

    The pool is ours so that it is closed here: ``PgstacDB`` would otherwise leave its own pool
    (and a connection) open after the load.
    """
    with ConnectionPool(dsn, min_size=1, max_size=1, open=True) as pool, PgstacDB(pool=pool) as db:
        loader = Loader(db)
        loader.load_collections(iter([landcover_collection().to_dict()]), Methods.upsert)
        if queryables:
            register_queryables(db.connect())
        loader.load_items(iter([item.to_dict() for item in items]), Methods.upsert)
