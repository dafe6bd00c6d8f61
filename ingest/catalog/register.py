"""Registering items in pgstac with pypgstac: the pipeline's last step, an idempotent upsert."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pystac
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pypgstac.db import PgstacDB
from pypgstac.load import Loader, Methods

from catalog_schemas.collections import (
    LANDCOVER_PARTITION_TRUNC,
    PARTITION_TRUNC,
    landcover_collection,
)
from catalog_schemas.queryables import landcover_queryables
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.queryables import register_queryables
from ingest.catalog.tile_invalidation import mark_tiles_changed
from ingest.errors import TransientError
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)

DEFINITION_KEY = "earthsig:definition"
# The item as registered (hydrated: its asset hrefs), if it is.
REGISTERED = "SELECT content_hydrate(items) FROM items WHERE id = %s AND collection = %s"

# Not part of the collection's JSON (pgstac's upsert leaves the column alone): set on its own.
PARTITION = """
UPDATE collections SET partition_trunc = %(trunc)s
WHERE id = %(id)s AND partition_trunc IS DISTINCT FROM %(trunc)s
RETURNING id
"""

# After each load: the collection's extent from its items (pgstac only computes it) and the
# model versions it holds, so TileJSON and collection search report what really is there.
REFRESH_COLLECTION = """
UPDATE collections SET content = content
    || jsonb_build_object('extent', x.extent)
    || jsonb_build_object('summaries', coalesce(content->'summaries', '{}'::jsonb)
        || jsonb_build_object('earthsig:model', x.models))
FROM (
    SELECT collection_extent(%(id)s, true) AS extent,
           (SELECT coalesce(jsonb_agg(DISTINCT i.content->'properties'->'earthsig:model'),
                            '[]'::jsonb)
              FROM items i WHERE i.collection = %(id)s) AS models
) AS x
WHERE id = %(id)s AND x.extent IS NOT NULL
RETURNING id
"""


def _definition() -> tuple[dict, str]:
    """The collection document and a digest of it and of its queryables."""
    collection = landcover_collection().to_dict()
    digest = hashlib.sha256(json.dumps([collection, landcover_queryables(),
                                        LANDCOVER_PARTITION_TRUNC],
                                       sort_keys=True).encode()).hexdigest()[:16]
    collection[DEFINITION_KEY] = digest
    return collection, digest


def ensure_collection(db: PgstacDB) -> bool:
    """Load the collection and its queryables when missing or changed; True if it loaded.

    Checked on every registration, loaded rarely: registering queryables rebuilds indexes.
    """
    collection, digest = _definition()
    stored = list(db.query("SELECT content->>%s FROM collections WHERE id = %s",
                           [DEFINITION_KEY, collection["id"]]))
    if stored and stored[0][0] == digest:
        return False
    Loader(db=db).load_collections([collection], Methods.upsert)
    partition_by_month(db, collection["id"])
    register_queryables(db.connect(), collection["id"])
    return True


@contextmanager
def registration_lock(db: PgstacDB) -> Iterator[None]:
    """One registration at a time, across workers and hosts.

    pgstac creates a month's partition on the first item of that month, and two writers doing
    it at once fail ("cannot ALTER TABLE ... being used by active queries"). A session lock:
    it outlives pypgstac's transactions and goes with the connection if the writer dies.
    """
    list(db.query("SELECT pg_advisory_lock(hashtext('earthsig:register'))"))
    try:
        yield
    finally:
        list(db.query("SELECT pg_advisory_unlock(hashtext('earthsig:register'))"))


def partition_by_month(db: PgstacDB, collection_id: str) -> None:
    """Partition ``collection_id``'s items by month (pgstac repartitions on a change: free for a
    new collection, a one-off rewrite of its items for an older one)."""
    list(db.query(PARTITION, {"trunc": PARTITION_TRUNC, "id": collection_id}))


def run_of(item: dict) -> str | None:
    """The run folder an item's files live in (``.../<run>/<file>``); None if not one."""
    runs = {href.rstrip("/").rsplit("/", 2)[-2] for asset in item.get("assets", {}).values()
            if (href := asset.get("href", "")).count("/") >= 2}
    return runs.pop() if len(runs) == 1 else None


def upsert_item(item: pystac.Item, dsn: str = "", settings: IngestSettings | None = None
                ) -> bool:
    """Upsert ``item`` (its collection first, if new or changed); refresh the collection; mark
    its tiles changed in the tile store, if any.

    The newest run wins: if the registered item already points at a later run of the same
    item (a twin job, or one on a host whose clock is behind, registered first), nothing is
    written and False is returned, so the caller discards its own, older run.
    An empty ``dsn`` means the libpq PG* variables.
    """
    try:
        with pgstac_session(dsn) as db:
            with registration_lock(db):
                redefined = ensure_collection(db)
                doc = item.to_dict(include_self_link=False)
                registered = next(iter(db.query(REGISTERED, [item.id, item.collection_id])),
                                  (None,))[0]
                ours, theirs = run_of(doc), run_of(registered or {})
                superseded = bool(ours and theirs and theirs > ours)
                if superseded:
                    log.info("%s: run %s already registered, newer than %s: kept", item.id,
                             theirs, ours)
                else:
                    Loader(db=db).load_items([doc], Methods.upsert)
                    list(db.query(REFRESH_COLLECTION, {"id": item.collection_id}))
            if redefined or not superseded:
                mark_tiles_changed(db, [] if superseded else [doc], catalog=redefined,
                                   settings=settings)
            return not superseded
    except (OperationalError, PoolTimeout) as exc:
        raise TransientError(f"pgstac unavailable while registering {item.id}: {exc}") from exc
