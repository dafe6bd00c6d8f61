"""The landcover collection is partitioned by month in pgstac, new or already loaded.

Searches carry a date window, and pgstac prunes partitions by date, so the partitioning is what
keeps a multi-year catalog's searches fast (docs/benchmarks.md, "Catalog at scale"). These tests
check the database, not the speed: the column, the partitions that exist, and that searches
across them return exactly the expected items.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import psycopg
import pytest
from pypgstac.load import Loader, Methods

from catalog_schemas.collections import LANDCOVER_COLLECTION_ID, landcover_collection
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.queryables import Queryables
from ingest.catalog.register import ensure_collection, landcover_definition, upsert_item
from stac_api.categories import category_filter
from tests.stac_api.sample_catalog import MONTPELLIER, PROVENCE, Product, landcover_item

WINTER = replace(MONTPELLIER,
                 product_id="S2B_MSIL2A_20250110T103629_N0511_R008_T31TEJ_20250110T134208",
                 sensed=datetime(2025, 1, 10, 10, 36, 29, tzinfo=UTC),
                 fractions={"112": 0.50, "311": 0.10, "523": 0.40})
PRODUCTS = (MONTPELLIER, PROVENCE, WINTER)  # June 2024, July 2024, January 2025


def _partitions(dsn: str) -> tuple[str | None, list[tuple[datetime | None, datetime | None,
                                                            int]]]:
    """The collection's partition_trunc, and each partition's time range and item count."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET search_path TO pgstac, public")
        (trunc,) = conn.execute("SELECT partition_trunc FROM collections WHERE id = %s",
                                (LANDCOVER_COLLECTION_ID,)).fetchone() or (None,)
        rows = conn.execute(
            # An unpartitioned collection's range is infinite: None here.
            "SELECT partition, nullif(lower(partition_dtrange), '-infinity'), "
            "nullif(upper(partition_dtrange), 'infinity') "
            "FROM partitions_view WHERE collection = %s ORDER BY 2",
            (LANDCOVER_COLLECTION_ID,)).fetchall()
        out = []
        for name, low, high in rows:
            (count,) = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()  # type: ignore[misc]
            out.append((low, high, int(count)))
    return trunc, out


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return datetime(year, month, 1, tzinfo=UTC), after


def _search(dsn: str, window: str, category: str) -> set[str]:
    body = {"collections": [LANDCOVER_COLLECTION_ID], "datetime": window,
            "filter": category_filter([category]), "filter-lang": "cql2-json", "limit": 100}
    with pgstac_session(dsn) as db:
        [(result,)] = list(db.query("SELECT search(%s::jsonb)", [json.dumps(body)]))
    return {f["id"] for f in result["features"]}


def _ids(*products: Product) -> set[str]:
    return {p.item_id for p in products}


def _expect_monthly(dsn: str) -> None:
    trunc, partitions = _partitions(dsn)
    assert trunc == "month"
    assert partitions == [(*_month(2024, 6), 1), (*_month(2024, 7), 1), (*_month(2025, 1), 1)]
    # Searches across and within partitions find exactly their items.
    assert _search(dsn, "2024-01-01T00:00:00Z/2025-12-31T23:59:59Z", "Vineyards") == _ids(
        MONTPELLIER, PROVENCE)
    assert _search(dsn, "2024-01-01T00:00:00Z/2025-12-31T23:59:59Z", "Sea and ocean") == _ids(
        MONTPELLIER, WINTER)
    assert _search(dsn, "2024-07-01T00:00:00Z/2025-01-31T23:59:59Z", "Sea and ocean") == _ids(
        WINTER)
    assert _search(dsn, "2024-06-20T00:00:00Z/2024-07-31T23:59:59Z", "forest") == _ids(PROVENCE)
    assert _search(dsn, "2024-08-01T00:00:00Z/2024-12-31T23:59:59Z", "forest") == set()


def test_a_new_collection_is_partitioned_by_month(pgstac_dsn: str) -> None:
    for product in PRODUCTS:
        upsert_item(landcover_item(product), landcover_definition(), pgstac_dsn)
    _expect_monthly(pgstac_dsn)


def test_a_collection_loaded_unpartitioned_is_repartitioned(pgstac_dsn: str) -> None:
    # As a catalog created before partitioning holds it: one partition for all items.
    with pgstac_session(pgstac_dsn) as db:
        Loader(db=db).load_collections([landcover_collection().to_dict()], Methods.upsert)
        Loader(db=db).load_items([landcover_item(p).to_dict(include_self_link=False)
                                  for p in PRODUCTS], Methods.insert)
    trunc, partitions = _partitions(pgstac_dsn)
    assert trunc is None and partitions == [(None, None, 3)]

    with pgstac_session(pgstac_dsn) as db:
        assert ensure_collection(db, landcover_collection(), Queryables.landcover()) is True
        # Applied once, then left alone.
        assert ensure_collection(db, landcover_collection(), Queryables.landcover()) is False
    _expect_monthly(pgstac_dsn)


@pytest.mark.parametrize("category", ["Vineyards", "forest"])
def test_reloading_an_item_keeps_one_copy(pgstac_dsn: str, category: str) -> None:
    for product in (*PRODUCTS, MONTPELLIER, PROVENCE):  # registered twice: an upsert
        upsert_item(landcover_item(product), landcover_definition(), pgstac_dsn)
    assert [count for *_, count in _partitions(pgstac_dsn)[1]] == [1, 1, 1]
    found = _search(pgstac_dsn, "2024-06-01T00:00:00Z/2024-07-31T23:59:59Z", category)
    assert found == _ids(MONTPELLIER, PROVENCE)  # both hold vineyards and a forest class
