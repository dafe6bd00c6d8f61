"""Fixtures of the STAC API tests: pgstac databases holding the sample catalog, and the API
serving one from a real uvicorn child process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.postgres import libpq_env
from tests.servers import uvicorn_server
from tests.stac_api.sample_catalog import PRODUCTS, landcover_item, load_catalog

FACTORY = "stac_api.app:create_app"
# Answers 200 only once the lifespan has opened the pool and pgstac answers.
HEALTH_PATH = "/_mgmt/health"


@pytest.fixture
def catalog_dsn(pgstac_dsn: str) -> str:
    """A fresh pgstac database holding the landcover collection and the sample items."""
    load_catalog(pgstac_dsn, [landcover_item(p) for p in PRODUCTS])
    return pgstac_dsn


@pytest.fixture(scope="module")
def api_url(module_pgstac_dsn: str) -> Iterator[str]:
    """Base URL of ``uvicorn --factory stac_api.app:create_app`` on the sample catalog.

    One server and database per module: the API is read-only, so its tests cannot disturb each
    other, and a database clone plus a uvicorn start per test would dominate the run time.
    """
    load_catalog(module_pgstac_dsn, [landcover_item(p) for p in PRODUCTS])
    with uvicorn_server(FACTORY, libpq_env(module_pgstac_dsn), health_path=HEALTH_PATH) as url:
        yield url
