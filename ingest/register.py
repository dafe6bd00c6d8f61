"""Registering items in pgstac with pypgstac: the pipeline's last step, an idempotent upsert."""

from __future__ import annotations

import pystac
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pypgstac.load import Loader, Methods

from catalog_schemas.collections import landcover_collection
from ingest.errors import TransientError
from ingest.pgstac_db import pgstac_session


def upsert_item(item: pystac.Item, dsn: str = "") -> None:
    """Upsert ``item``; create its collection if missing and refresh the collection's extent.

    An empty ``dsn`` means the libpq PG* variables. The extent is recomputed from the items so
    TileJSON and collection search report where data really is, not all of Europe.
    """
    try:
        with pgstac_session(dsn) as db:
            loader = Loader(db=db)
            loader.load_collections([landcover_collection().to_dict()], Methods.ignore)
            loader.load_items([item.to_dict(include_self_link=False)], Methods.upsert)
            # collection_extent() only computes; writing it back is ours to do.
            list(db.query(
                "UPDATE collections SET content = content || jsonb_build_object('extent', x.e) "
                "FROM (SELECT collection_extent(%s, true) AS e) AS x "
                "WHERE id = %s AND x.e IS NOT NULL RETURNING id",
                [item.collection_id, item.collection_id],
            ))
    except (OperationalError, PoolTimeout) as exc:
        raise TransientError(f"pgstac unavailable while registering {item.id}: {exc}") from exc
