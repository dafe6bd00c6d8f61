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
    """Upsert ``item`` (and its collection); an empty ``dsn`` means the libpq PG* variables."""
    try:
        with pgstac_session(dsn) as db:
            loader = Loader(db=db)
            loader.load_collections([landcover_collection().to_dict()], Methods.upsert)
            loader.load_items([item.to_dict(include_self_link=False)], Methods.upsert)
    except (OperationalError, PoolTimeout) as exc:
        raise TransientError(f"pgstac unavailable while registering {item.id}: {exc}") from exc
