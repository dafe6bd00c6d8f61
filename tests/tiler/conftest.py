"""Tiler fixtures: a landcover COG + its item in a fresh pgstac, and a real tiler server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from catalog_schemas.collections import landcover_collection
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import item_dict, load, write_cog

ITEM_ID = "S2A_MSIL2A_20240601T104621_N0510_R051_T31TCJ_clc-v1"


@pytest.fixture
def landcover_cog(tmp_path: Path) -> Path:
    """Left half water bodies (41), right half broad-leaved forest (23)."""
    return write_cog(tmp_path / "landcover.tif")


@pytest.fixture
def landcover_item(pgstac_dsn: str, landcover_cog: Path) -> dict:
    """The landcover collection and one item pointing at ``landcover_cog``, loaded in pgstac."""
    item = item_dict(landcover_cog, ITEM_ID, datetime(2024, 6, 1, 10, 46, 21, tzinfo=UTC))
    load(pgstac_dsn, [landcover_collection().to_dict()], [item])
    return item


@pytest.fixture
def tiler_env(pg_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The test database, and the test's folder as the only place assets may be read from."""
    return {**pg_env, "EARTHSIG_TILER_ASSET_ROOTS": str(tmp_path)}


@pytest.fixture
def tiler_url(tiler_env: dict[str, str]) -> Iterator[str]:
    """Base URL of ``uvicorn --factory tiler.app:create_app`` on the test database."""
    with uvicorn_server("tiler.app:create_app", tiler_env, health_path="/healthz") as url:
        yield url
