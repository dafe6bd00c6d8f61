"""``retire`` refreshes the collection's models summary and extent like a registration, also
when it removes the collection's last items: the summary then goes (STAC allows no empty one),
the extent stays the last, and the next registration lists its own model again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pystac
import pytest

from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.register import landcover_definition, upsert_item
from ingest.orchestration.operations import retire
from ingest.settings import IngestSettings
from tests.stac_api.offline_validation import CoreOnlyValidator
from tests.stac_api.sample_catalog import MONTPELLIER, PROVENCE, Product, landcover_item


def _register(dsn: str, product: Product, model: str) -> dict[str, Any]:
    item = landcover_item(product)
    item.id = f"{product.tile}-{model.replace(':', '-v')}"
    item.properties["earthsig:model"] = model
    assert upsert_item(item, landcover_definition(), dsn, IngestSettings(_env_file=None))
    return item.to_dict()


def _collection(dsn: str) -> dict[str, Any]:
    with pgstac_session(dsn) as db:
        [(content,)] = list(db.query("SELECT content FROM collections WHERE id = %s",
                                     [LANDCOVER_COLLECTION_ID]))
    return content


def test_retiring_the_last_version_leaves_no_model_and_the_last_extent(
    pgstac_dsn: str, tmp_path: Path
) -> None:
    kept = _register(pgstac_dsn, MONTPELLIER, "clc-spectral:1")
    _register(pgstac_dsn, PROVENCE, "clc-spectral:2")
    settings = IngestSettings(_env_file=None, home=tmp_path)

    assert len(retire("clc-spectral:2", dsn=pgstac_dsn, ingest=settings)) == 1
    last = _collection(pgstac_dsn)
    assert last["summaries"]["earthsig:model"] == ["clc-spectral:1"]
    assert last["extent"]["spatial"]["bbox"] == [pytest.approx(kept["bbox"])]

    assert len(retire("clc-spectral:1", dsn=pgstac_dsn, ingest=settings)) == 1
    emptied = _collection(pgstac_dsn)
    assert "earthsig:model" not in emptied["summaries"]
    assert emptied["extent"] == last["extent"]
    assert pystac.Collection.from_dict(emptied).validate(CoreOnlyValidator())  # STAC 1.1 core

    again = _register(pgstac_dsn, PROVENCE, "clc-dynamicworld:1")
    refilled = _collection(pgstac_dsn)
    assert refilled["summaries"]["earthsig:model"] == ["clc-dynamicworld:1"]
    assert refilled["extent"]["spatial"]["bbox"] == [pytest.approx(again["bbox"])]
