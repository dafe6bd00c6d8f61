"""Reading Sentinel-2 products of every layout through one interface.

``load_product(href)`` gives a ``pystac.Item`` for any layout - an earth-search-style STAC item
with COG bands (read in place, over HTTP range reads when remote), or a SAFE L2A/L1C product
as a folder or a zip (an item synthesised from its metadata). ``open_product`` opens a
``ProductReader`` on it: ``read(window)`` gives float32 reflectance and a validity mask on the
10 m grid, ``read_on_grid`` any band (SCL) on that grid. Metadata and rasters are checked
against each other (``checks``): absurd dates, empty footprints or mislabelled CRSs are refused.
"""

from __future__ import annotations

import pystac

from ingest.readers.bands import BandGrid, ProductReader, band_asset
from ingest.readers.checks import check_metadata
from ingest.readers.safe import is_safe, safe_item
from ingest.readers.stac import stac_item

__all__ = ["BandGrid", "ProductReader", "band_asset", "load_product", "open_product"]


def load_product(href: str) -> pystac.Item:
    """The product at ``href`` as a STAC item: a STAC item JSON, a SAFE folder or a SAFE zip."""
    item = safe_item(href) if is_safe(href) else stac_item(href)
    return check_metadata(item)


def open_product(product: str | pystac.Item, bands: list[str]) -> ProductReader:
    """A reader of ``bands`` of ``product`` (an href of any layout, or its loaded item)."""
    item = product if isinstance(product, pystac.Item) else load_product(product)
    return ProductReader(item, bands)
