"""Queryables: the document built from the CLC legend, and its registration in a real pgstac."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from catalog_schemas import clc, landcover_stats
from catalog_schemas.queryables import landcover_queryables
from ingest.catalog.queryables import register_queryables
from stac_api.app import create_app
from stac_api.settings import PostgresSettings, SearchSettings, Settings
from tests.stac_api.sample_catalog import MONTPELLIER, PROVENCE, landcover_item, load_catalog

PGSTAC = "-c search_path=pgstac,public"


def test_document_has_a_fraction_per_legend_class_and_string_codes() -> None:
    properties = landcover_queryables()["properties"]
    fractions = [k for k in properties if k.startswith("clc:fraction_")]
    assert len(fractions) == len(clc.clc_classes()) == 44
    assert properties["clc:fraction_221"]["type"] == "number"
    classes = properties[landcover_stats.CLASSES]
    assert classes["type"] == "array"
    assert classes["items"]["type"] == "string"
    assert "311" in classes["items"]["enum"]


def _rows(dsn: str) -> dict[str, tuple[list[str] | None, str | None]]:
    with psycopg.connect(dsn, options=PGSTAC) as conn:
        rows = conn.execute(
            "SELECT name, collection_ids, queryable_wrapper(property_wrapper, definition) "
            "FROM queryables"
        ).fetchall()
    return {name: (ids, wrapper) for name, ids, wrapper in rows}


def test_registration_is_idempotent_and_reads_fractions_as_numbers(pgstac_dsn: str) -> None:
    load_catalog(pgstac_dsn, [], queryables=False)
    with psycopg.connect(pgstac_dsn) as conn:
        loaded = register_queryables(conn)
        again = register_queryables(conn)
    rows = _rows(pgstac_dsn)
    assert loaded == again == len(landcover_queryables()["properties"])
    assert rows["clc:fraction_311"] == (["landcover"], "to_float")
    assert rows[landcover_stats.CLASSES] == (["landcover"], "to_text_array")
    assert rows["earthsig:source_product"] == (["landcover"], "to_text")
    # pgstac's own three stay, for every collection.
    assert {"id", "geometry", "datetime"} <= set(rows)


def test_registration_needs_the_collection(pgstac_dsn: str) -> None:
    with psycopg.connect(pgstac_dsn) as conn, pytest.raises(psycopg.errors.ForeignKeyViolation):
        register_queryables(conn)


def test_registered_queryables_make_sorting_numeric(
    pgstac_dsn: str, pg_env: dict[str, str]
) -> None:
    """An unregistered ``eo:cloud_cover`` is refused as a sort field (pgstac would sort it as
    text, 27.5 before 3.2); registered, it sorts as a number and shows on ``/queryables``."""
    load_catalog(pgstac_dsn, [landcover_item(p) for p in (MONTPELLIER, PROVENCE)],
                 queryables=False)
    pg = PostgresSettings(_env_file=None, **{k.lower(): v for k, v in pg_env.items()})
    # Queryables asked of pgstac on every search: the registration below takes effect at once.
    app = create_app(Settings(_env_file=None), pg,
                     search=SearchSettings(_env_file=None, queryables_cache_s=0))
    clearest_first = {"sortby": [{"field": "eo:cloud_cover", "direction": "asc"}]}
    with TestClient(app) as client:
        assert client.post("/search", json=clearest_first).status_code == 400
    with psycopg.connect(pgstac_dsn) as conn:
        register_queryables(conn)
    with TestClient(app) as client:
        found = client.post("/search", json=clearest_first).json()
        queryables = client.get("/collections/landcover/queryables").json()
    assert [f["id"] for f in found["features"]] == [MONTPELLIER.item_id, PROVENCE.item_id]
    assert queryables["properties"]["eo:cloud_cover"]["type"] == "number"
