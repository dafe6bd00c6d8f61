"""The inputs of the products derived from land cover (changes, label candidates): finding
landcover items in pgstac, and the lineage links that point at them.

Derived items are published like land cover, by ``ingest.catalog.publisher``.
"""

from __future__ import annotations

import json
from datetime import date

import pystac

from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from catalog_schemas.earthsig_extension import MODEL
from ingest.catalog.pgstac_db import pgstac_session
from ingest.errors import InvalidProductError


def api_href(collection: str, item_id: str) -> str:
    """An item's place in the STAC API, relative to any other item's URL there
    (``/collections/<c>/items/<id>``): lineage that resolves on every deployment."""
    return f"../../{collection}/items/{item_id}"


def tile_of(item: pystac.Item | dict) -> str | None:
    """The MGRS tile (``32TQM``) of a landcover item, from its ``mgrs:*`` or ``grid:code``."""
    props = item.properties if isinstance(item, pystac.Item) else item["properties"]
    if {"mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square"} <= props.keys():
        return f"{int(props['mgrs:utm_zone']):02d}{props['mgrs:latitude_band']}" \
               f"{props['mgrs:grid_square']}"
    code = str(props.get("grid:code", ""))
    return code.removeprefix("MGRS-") or None


def get_item(item_id: str, collection: str = LANDCOVER_COLLECTION_ID, dsn: str = ""
             ) -> pystac.Item:
    """One item from pgstac; InvalidProductError naming it when it is not there."""
    with pgstac_session(dsn) as db:
        rows = list(db.query("SELECT content_hydrate(items) FROM items "
                             "WHERE id = %s AND collection = %s", [item_id, collection]))
    if not rows:
        raise InvalidProductError(f"no item {item_id!r} in collection {collection!r}")
    return pystac.Item.from_dict(rows[0][0])


def search_items(collection: str, *, start: date | None = None, end: date | None = None,
                 dsn: str = "") -> list[dict]:
    """Every item of ``collection`` acquired between ``start`` and ``end`` (whole days,
    inclusive), oldest first."""
    lower = f"{start}T00:00:00Z" if start else ".."
    upper = f"{end}T23:59:59Z" if end else ".."
    search: dict = {"collections": [collection], "limit": 10000,
                    "sortby": [{"field": "datetime", "direction": "asc"}]}
    if start or end:  # pgstac refuses an interval open at both ends
        search["datetime"] = f"{lower}/{upper}"
    with pgstac_session(dsn) as db:
        [(result,)] = list(db.query("SELECT search(%s::jsonb)", [json.dumps(search)]))
    return list(result.get("features") or [])


def landcover_items_of_tile(tile: str, *, start: date | None = None, end: date | None = None,
                            model: str | None = None, dsn: str = "") -> list[pystac.Item]:
    """The landcover items of one MGRS tile (optionally one model), oldest first."""
    tile = tile.upper().removeprefix("T")
    found = [pystac.Item.from_dict(f) for f in search_items(
        LANDCOVER_COLLECTION_ID, start=start, end=end, dsn=dsn)
        if tile_of(f) == tile and (model is None or
                                   f["properties"].get(MODEL) == model)]
    return sorted(found, key=lambda i: (i.datetime, i.id))
