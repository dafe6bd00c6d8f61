"""Compatibility names for the product reader, which lives in ``ingest.readers``.

``load_item`` accepts every layout ``ingest.readers.load_product`` does (STAC item with COGs,
SAFE L2A/L1C folder or zip), so callers written for STAC items read SAFE products too.
"""

from ingest.readers import BandGrid, ProductReader, band_asset, load_product, open_product
from ingest.readers.bands import BASELINE_OFFSET, DEFAULT_SCALE, EARTH_SEARCH_KEYS

load_item = load_product

__all__ = ["BASELINE_OFFSET", "DEFAULT_SCALE", "EARTH_SEARCH_KEYS", "BandGrid", "ProductReader",
           "band_asset", "load_item", "load_product", "open_product"]
