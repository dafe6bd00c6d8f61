"""Products derived from landcover items (changes, label candidates): finding their inputs in
pgstac and publishing their files and item atomically, the way the pipeline publishes land cover.

Publication: the files are written into a staging folder, published as a new run
``<collection>/<item>/<run>/`` of the asset store, the item is upserted pointing at that run
(its collection loaded first when missing or changed), and only then are earlier runs pruned; a
failed registration discards the new run, so the earlier item keeps its untouched files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pystac
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pypgstac.db import PgstacDB
from pypgstac.load import Loader, Methods

from catalog_schemas.collections import LANDCOVER_COLLECTION_ID, PARTITION_TRUNC
from catalog_schemas.items import PublishedFile
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.register import partition_by_month, registration_lock
from ingest.catalog.tile_invalidation import mark_tiles_changed
from ingest.errors import InvalidProductError, TransientError
from ingest.outputs.publish import describe, new_run_id, staging_folder
from ingest.outputs.store import asset_store
from ingest.settings import IngestSettings

DEFINITION_KEY = "earthsig:definition"


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
                                   f["properties"].get("earthsig:model") == model)]
    return sorted(found, key=lambda i: (i.datetime, i.id))


def _definition(collection: pystac.Collection) -> tuple[dict, str]:
    doc = collection.to_dict(include_self_link=False)
    digest = hashlib.sha256(json.dumps([doc, PARTITION_TRUNC], sort_keys=True).encode()
                            ).hexdigest()[:16]
    doc[DEFINITION_KEY] = digest
    return doc, digest


def _ensure_collection(db: PgstacDB, collection: pystac.Collection) -> bool:
    """Load the collection if missing or changed; True when it was (re)loaded."""
    doc, digest = _definition(collection)
    stored = list(db.query("SELECT content->>%s FROM collections WHERE id = %s",
                           [DEFINITION_KEY, doc["id"]]))
    if stored and stored[0][0] == digest:
        return False
    Loader(db=db).load_collections([doc], Methods.upsert)
    partition_by_month(db, doc["id"])  # as landcover: searches carry date windows
    return True


def upsert_items(collection: pystac.Collection, items: list[pystac.Item], dsn: str = "") -> None:
    """Load ``collection`` if missing or changed, then upsert ``items``; refresh its extent;
    mark their tiles changed in the tile store, if any."""
    try:
        with pgstac_session(dsn) as db:
            with registration_lock(db):  # month partitions are created by the first item
                redefined = _ensure_collection(db, collection)
                docs = [i.to_dict(include_self_link=False) for i in items]
                Loader(db=db).load_items(docs, Methods.upsert)
                list(db.query("UPDATE collections SET content = content || "
                              "jsonb_build_object('extent', collection_extent(%(id)s, true)) "
                              "WHERE id = %(id)s AND collection_extent(%(id)s, true) IS NOT "
                              "NULL RETURNING id", {"id": collection.id}))
            mark_tiles_changed(db, docs, catalog=redefined)
    except (OperationalError, PoolTimeout) as exc:
        raise TransientError(f"pgstac unavailable while registering into {collection.id}: "
                             f"{exc}") from exc


def publish_item(collection: pystac.Collection, item_id: str,
                 write: Callable[[Path], dict[str, str]],
                 build: Callable[[dict[str, PublishedFile]], pystac.Item], *,
                 ingest: IngestSettings | None = None, dsn: str = "") -> pystac.Item:
    """Stage files with ``write(folder) -> {asset key: file name}``, publish them as a new
    run, build the item from the published files and register it; prune earlier runs."""
    store = asset_store(ingest or IngestSettings())
    item_path = f"{collection.id}/{item_id}"
    run = f"{item_path}/{new_run_id()}"
    with staging_folder(store.staging_parent(item_path)) as staging:
        names = write(staging)
        described = {key: describe(staging / name) for key, name in names.items()}
        hrefs = store.publish(staging, run)
    try:
        item = build({key: PublishedFile(hrefs[names[key]], size, checksum)
                      for key, (size, checksum) in described.items()})
        upsert_items(collection, [item], dsn)
    except BaseException:
        store.discard(run)  # nothing points at it: the earlier item keeps its own run
        raise
    store.prune(item_path, keep=run)
    return item
