"""Registering items in pgstac with pypgstac: the pipeline's last step, an idempotent upsert."""

from __future__ import annotations

import pystac
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pypgstac.load import Loader, Methods

from catalog_schemas.collections import landcover_collection
from ingest.errors import TransientError
from ingest.pgstac_db import pgstac_session

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


def upsert_item(item: pystac.Item, dsn: str = "") -> None:
    """Upsert ``item`` and its collection's definition; refresh the collection's summary.

    An empty ``dsn`` means the libpq PG* variables.
    """
    try:
        with pgstac_session(dsn) as db:
            loader = Loader(db=db)
            loader.load_collections([landcover_collection().to_dict()], Methods.upsert)
            loader.load_items([item.to_dict(include_self_link=False)], Methods.upsert)
            list(db.query(REFRESH_COLLECTION, {"id": item.collection_id}))
    except (OperationalError, PoolTimeout) as exc:
        raise TransientError(f"pgstac unavailable while registering {item.id}: {exc}") from exc
