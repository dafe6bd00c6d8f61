"""Which products the catalog already holds for a model version (so discovery skips them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from psycopg import OperationalError
from psycopg_pool import PoolTimeout

from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from ingest.catalog.pgstac_db import pgstac_session
from ingest.discovery.acquisitions import Acquisition, acquisition_of
from ingest.errors import TransientError

# Lineage properties written by catalog_schemas.items on every published item.
QUERY = """
SELECT DISTINCT content->'properties'->>'earthsig:source_product'
FROM items
WHERE collection = %(collection)s
  AND content->'properties'->>'earthsig:model' = %(model)s
  AND content->'properties'->>'earthsig:source_product' = ANY(%(ids)s)
"""


def catalogued_products(product_ids: Iterable[str], model_ref: str, dsn: str = "") -> set[str]:
    """The ids among ``product_ids`` with an item of ``model_ref`` (``name:version``)."""
    ids = sorted(set(product_ids))
    if not ids:
        return set()
    try:
        with pgstac_session(dsn) as db:
            rows = db.query(QUERY, {"collection": LANDCOVER_COLLECTION_ID, "model": model_ref,
                                    "ids": ids})
            return {row[0] for row in rows if row}  # pypgstac yields None for no rows
    except (OperationalError, PoolTimeout) as exc:
        raise TransientError(f"pgstac unavailable while checking the catalog: {exc}") from exc


# The lineage and acquisition of a model version's items sensed in a time range: enough to
# tell a product published under another id (another level or processing baseline).
ACQUISITIONS = """
SELECT content->'properties'->>'earthsig:source_product', datetime,
       content->'properties'
FROM items
WHERE collection = %(collection)s
  AND content->'properties'->>'earthsig:model' = %(model)s
  AND datetime >= %(start)s AND datetime < %(end)s
"""


def catalogued_acquisitions(model_ref: str, start: dt.datetime, end: dt.datetime,
                            dsn: str = "") -> list[tuple[str, Acquisition | None]]:
    """``(source product id, acquisition)`` of the items of ``model_ref`` sensed in
    ``[start, end)``."""
    try:
        with pgstac_session(dsn) as db:
            rows = db.query(ACQUISITIONS, {"collection": LANDCOVER_COLLECTION_ID,
                                           "model": model_ref, "start": start, "end": end})
            found = []
            for row in rows:
                if not row:  # pypgstac yields None for no rows
                    continue
                source, sensed, properties = row
                properties = {**properties, "datetime": sensed.isoformat()}
                properties.pop("processing:level", None)  # the item's own (L3), not its source's
                found.append((source, acquisition_of(source, properties)))
            return found
    except (OperationalError, PoolTimeout) as exc:
        raise TransientError(f"pgstac unavailable while checking the catalog: {exc}") from exc
