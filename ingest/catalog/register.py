"""Registering items in pgstac with pypgstac, for every collection: the collection loaded when
missing or changed, an idempotent upsert in which the newest run wins, the collection's extent
refreshed, the items' tiles marked changed.

The files behind an item reach the asset store first (``ingest.catalog.publisher``); this is the
database half.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pystac
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pypgstac.db import PgstacDB
from pypgstac.load import Loader, Methods

from catalog_schemas.collection_refresh import (
    REGISTRATION_LOCK,
    REGISTRATION_UNLOCK,
    ParamStyle,
    refresh_queries,
)
from catalog_schemas.collections import PARTITION_TRUNC, landcover_collection
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.queryables import Queryables, register_queryables
from ingest.catalog.tile_invalidation import mark_tiles_changed
from ingest.errors import TransientError
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)

# The digest of the definition a collection was loaded from, stored in its document.
DEFINITION_KEY = "earthsig:definition"
# The item as registered (hydrated: its asset hrefs), if it is.
REGISTERED = "SELECT content_hydrate(items) FROM items WHERE id = %s AND collection = %s"

# Not part of the collection's JSON (pgstac's upsert leaves the column alone): set on its own.
PARTITION = """
UPDATE collections SET partition_trunc = %(trunc)s
WHERE id = %(id)s AND partition_trunc IS DISTINCT FROM %(trunc)s
RETURNING id
"""

@dataclass(frozen=True)
class CollectionDefinition:
    """What the catalog holds for one collection: its STAC document, the queryables registered
    with it, and whether its summaries list the models its items come from."""

    collection: pystac.Collection
    queryables: Queryables | None = None
    summarise_models: bool = False

    @property
    def id(self) -> str:
        return str(self.collection.id)


def landcover_definition() -> CollectionDefinition:
    """Land cover: its queryables registered, its summaries listing its items' models."""
    return CollectionDefinition(landcover_collection(), Queryables.landcover(),
                                summarise_models=True)


def definition_document(collection: pystac.Collection, queryables: Queryables | None = None
                        ) -> tuple[dict, str]:
    """The collection document to load, and the digest of what defines it (the document, the
    queryables document if any, the partitioning) stored in it under :data:`DEFINITION_KEY`.

    The digest is computed as it always was for each kind of collection, so catalogs loaded
    before keep their digests and are not reloaded.
    """
    doc = collection.to_dict(include_self_link=False)
    parts = [doc, *([queryables.document] if queryables else []), PARTITION_TRUNC]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    doc[DEFINITION_KEY] = digest
    return doc, digest


def ensure_collection(db: PgstacDB, collection: pystac.Collection,
                      queryables: Queryables | None = None) -> bool:
    """Load the collection (partitioned by month, its queryables registered when given) when
    missing or changed; True if it loaded.

    Checked on every registration, loaded rarely: registering queryables rebuilds indexes.
    """
    doc, digest = definition_document(collection, queryables)
    stored = list(db.query("SELECT content->>%s FROM collections WHERE id = %s",
                           [DEFINITION_KEY, doc["id"]]))
    if stored and stored[0][0] == digest:
        return False
    Loader(db=db).load_collections(iter([doc]), Methods.upsert)
    partition_by_month(db, doc["id"])  # searches carry date windows
    if queryables is not None:
        register_queryables(db.connect(), doc["id"], queryables)
    return True


def refresh_collection(db: PgstacDB, collection_id: str, *, models: bool = False) -> None:
    """The collection's extent from its items, and its models summary where ``models`` asks
    for it or the collection already summarises its models (``catalog_schemas.collection_refresh``,
    the SQL the STAC API's writes run too)."""
    for sql, params in refresh_queries(collection_id, models=models, style=ParamStyle.PYFORMAT):
        list(db.query(sql, params))


@contextmanager
def registration_lock(db: PgstacDB) -> Iterator[None]:
    """One registration at a time, across workers and hosts.

    pgstac creates a month's partition on the first item of that month, and two writers doing
    it at once fail ("cannot ALTER TABLE ... being used by active queries"). A session lock:
    it outlives pypgstac's transactions and goes with the connection if the writer dies. The
    STAC API's writes take the same key, as a transaction lock.
    """
    list(db.query(REGISTRATION_LOCK))
    try:
        yield
    finally:
        list(db.query(REGISTRATION_UNLOCK))


def partition_by_month(db: PgstacDB, collection_id: str) -> None:
    """Partition ``collection_id``'s items by month (pgstac repartitions on a change: free for a
    new collection, a one-off rewrite of its items for an older one)."""
    list(db.query(PARTITION, {"trunc": PARTITION_TRUNC, "id": collection_id}))


def run_of(item: dict) -> str | None:
    """The run folder an item's files live in (``.../<run>/<file>``); None if not one."""
    runs = {href.rstrip("/").rsplit("/", 2)[-2] for asset in item.get("assets", {}).values()
            if (href := asset.get("href", "")).count("/") >= 2}
    return runs.pop() if len(runs) == 1 else None


def upsert_item(item: pystac.Item, definition: CollectionDefinition, dsn: str = "",
                settings: IngestSettings | None = None) -> bool:
    """Upsert ``item`` into ``definition``'s collection (loaded first, if new or changed);
    refresh the collection; mark its tiles changed in the tile store, if any.

    The newest run wins: if the registered item already points at a later run of the same
    item (a twin job, or one on a host whose clock is behind, registered first), nothing is
    written and False is returned, so the caller discards its own, older run.
    An empty ``dsn`` means the libpq PG* variables.
    """
    if item.collection_id != definition.id:
        raise ValueError(f"item {item.id} is of collection {item.collection_id!r}, "
                         f"not {definition.id!r}")
    try:
        with pgstac_session(dsn) as db:
            with registration_lock(db):
                redefined = ensure_collection(db, definition.collection, definition.queryables)
                doc = item.to_dict(include_self_link=False)
                registered = next(iter(db.query(REGISTERED, [item.id, item.collection_id])),
                                  (None,))[0]
                ours, theirs = run_of(doc), run_of(registered or {})
                superseded = bool(ours and theirs and theirs > ours)
                if superseded:
                    log.info("%s: run %s already registered, newer than %s: kept", item.id,
                             theirs, ours)
                else:
                    Loader(db=db).load_items(iter([doc]), Methods.upsert)
                    refresh_collection(db, definition.id, models=definition.summarise_models)
            if redefined or not superseded:
                mark_tiles_changed(db, [] if superseded else [doc], catalog=redefined,
                                   settings=settings)
            return not superseded
    except (OperationalError, PoolTimeout) as exc:
        raise TransientError(f"pgstac unavailable while registering {item.id}: {exc}") from exc
