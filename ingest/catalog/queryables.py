"""Register a collection's queryables in pgstac.

The catalog owns its queryables, not the API (which may run on a read-only role):
``ingest.catalog.register.ensure_collection`` calls :func:`register_queryables` whenever it
loads a new or changed collection definition that has queryables (land cover's; it costs 1-2 s:
pgstac rebuilds the property indexes).

It is idempotent: pgstac's ``upsert_queryables`` replaces the rows of each name for the
collection, and ``delete_missing`` drops the collection's queryables no longer defined.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg

from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from catalog_schemas.queryables import INDEXED, landcover_queryables

# pgstac's own loader; the same statement `pypgstac load_queryables` runs from a file.
UPSERT = "SELECT pgstac.upsert_queryables(%s::jsonb, %s::text[], %s::text[], %s)"


@dataclass(frozen=True)
class Queryables:
    """A collection's queryables document (JSON Schema) and the properties pgstac indexes."""

    document: dict[str, Any]
    indexed: tuple[str, ...] = ()

    @classmethod
    def landcover(cls) -> Queryables:
        """The landcover collection's (``catalog_schemas.queryables``)."""
        return cls(landcover_queryables(), tuple(INDEXED))


def register_queryables(conn: psycopg.Connection, collection_id: str = LANDCOVER_COLLECTION_ID,
                        queryables: Queryables | None = None) -> int:
    """Upsert ``queryables`` (the landcover ones when None) for ``collection_id``; returns how
    many were loaded.

    The collection must exist (pgstac refuses queryables of unknown collections). Runs in its
    own transaction (a savepoint inside the caller's), so it is all or nothing.
    """
    queryables = queryables or Queryables.landcover()
    document = json.dumps(queryables.document)
    with conn.transaction():
        # pgstac's queryables triggers call its functions unqualified; LOCAL keeps the caller's
        # session as it was.
        conn.execute("SET LOCAL search_path TO pgstac, public")
        row = conn.execute(UPSERT, (document, [collection_id], list(queryables.indexed),
                                    True)).fetchone()
    return int(row[0]) if row else 0
