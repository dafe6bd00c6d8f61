"""``create_app`` as a plain function: built without a database, run in-process with its
lifespan driven by Starlette's TestClient against a real pgstac database."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import version

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stac_api.app import create_app
from stac_api.settings import PostgresSettings, Settings
from tests.stac_api.sample_catalog import MONTPELLIER, PROVENCE, landcover_item, load_catalog

WRITE_ROUTES = [
    ("POST", "/collections"),
    ("PUT", "/collections/landcover"),
    ("DELETE", "/collections/landcover"),
    ("POST", "/collections/landcover/items"),
    ("POST", "/collections/landcover/bulk_items"),
    ("DELETE", "/collections/landcover/items/x"),
]


def postgres_settings(pg_env: dict[str, str]) -> PostgresSettings:
    """Explicit database settings, so the test never depends on this process's PG* variables."""
    return PostgresSettings(_env_file=None, **{k.lower(): v for k, v in pg_env.items()})


@pytest.fixture
def app() -> FastAPI:
    return create_app(Settings(_env_file=None))


def test_building_the_app_needs_no_database(app: FastAPI) -> None:
    client = TestClient(app)  # not entered: the lifespan does not run
    assert client.get("/conformance").status_code == 200
    health = client.get("/_mgmt/health")
    assert health.status_code == 503
    assert health.json()["lifespan"]["status"] == "DOWN"


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
def test_no_write_route_is_served(app: FastAPI, method: str, path: str) -> None:
    response = TestClient(app).request(method, path, json={})
    assert response.status_code in (404, 405)


def test_openapi_lists_only_read_operations(app: FastAPI) -> None:
    methods = {m for ops in app.openapi()["paths"].values() for m in ops}
    assert methods <= {"get", "post"}
    assert set(app.openapi()["paths"]["/search"]) == {"get", "post"}
    assert "post" not in app.openapi()["paths"]["/collections"]


@pytest.fixture
def running(catalog_dsn: str, pg_env: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(Settings(_env_file=None), postgres_settings(pg_env))
    with TestClient(app) as client:
        yield client


def test_lifespan_opens_the_pool_on_the_given_database(running: TestClient) -> None:
    health = running.get("/_mgmt/health")
    assert health.status_code == 200
    assert health.json()["pgstac"]["status"] == "UP"


def test_health_reports_database_and_pgstac_versions(running: TestClient) -> None:
    body = running.get("/_mgmt/health").json()
    assert body["pgstac"]["pgstac_version"] == version("pypgstac")
    assert body["database"]["status"] == "UP"
    assert body["database"]["postgres_version"].split(".")[0].isdigit()


def test_landing_page_carries_our_identity(running: TestClient) -> None:
    landing = running.get("/").json()
    assert (landing["id"], landing["title"]) == ("earthsignature", "EarthSignature STAC API")


def test_upstream_settings_reach_the_landing_page(catalog_dsn: str, pg_env: dict[str, str]) -> None:
    settings = Settings(_env_file=None, stac_fastapi_title="Staging", stac_fastapi_landing_id="stg")
    with TestClient(create_app(settings, postgres_settings(pg_env))) as client:
        landing = client.get("/").json()
    assert (landing["id"], landing["title"]) == ("stg", "Staging")


def test_free_text_searches_item_titles_and_descriptions(running: TestClient) -> None:
    """Our one addition to upstream's extension set: ``q`` on item search and item lists."""
    found = running.get("/search", params={"q": MONTPELLIER.tile}).json()
    assert [f["id"] for f in found["features"]] == [MONTPELLIER.item_id]
    found = running.post("/search", json={"q": [PROVENCE.tile]}).json()
    assert [f["id"] for f in found["features"]] == [PROVENCE.item_id]
    found = running.get("/collections/landcover/items", params={"q": PROVENCE.tile}).json()
    assert [f["id"] for f in found["features"]] == [PROVENCE.item_id]


def test_enabled_extensions_still_select_upstream_keys(
    catalog_dsn: str, pg_env: dict[str, str]
) -> None:
    settings = Settings(_env_file=None, enabled_extensions=["pagination"])
    with TestClient(create_app(settings, postgres_settings(pg_env))) as client:
        conformance = client.get("/conformance").json()["conformsTo"]
    assert not [c for c in conformance if "free-text" in c or "filter" in c]


def test_free_text_misses_items_without_description(
    pgstac_dsn: str, pg_env: dict[str, str]
) -> None:
    """pgstac 0.10 concatenates the item's description, title and keywords into one text
    vector without guarding a missing description: such an item matches no ``q`` at all, even
    on words of its title. Items the pipeline registers must carry a description."""
    with_description = landcover_item(MONTPELLIER)
    without = landcover_item(PROVENCE)
    del without.properties["description"]
    load_catalog(pgstac_dsn, [with_description, without])
    with TestClient(create_app(Settings(_env_file=None), postgres_settings(pg_env))) as client:
        found = client.get("/search", params={"q": "CORINE"}).json()
    assert [f["id"] for f in found["features"]] == [MONTPELLIER.item_id]


def test_the_api_freezes_what_it_loaded_at_start(pg_env: dict[str, str]) -> None:
    import gc

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        with TestClient(create_app(Settings(_env_file=None), postgres_settings(pg_env))) as client:
            assert gc.get_freeze_count() > 10_000  # modules, models, the OpenAPI document...
            assert client.get("/").status_code == 200
    finally:
        gc.unfreeze()
