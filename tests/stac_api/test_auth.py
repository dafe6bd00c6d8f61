"""Writes: off unless enabled, and then only with an API key (401 without, 403 wrong, 2xx right);
reads stay public. In-process app with its lifespan, on a real pgstac database."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from pyproj import Transformer

from stac_api.app import create_app
from stac_api.auth import write_scopes
from stac_api.errors import WritesWithoutKeysError
from stac_api.settings import AuthSettings, PostgresSettings, Settings, TileStoreSettings
from stac_api.tile_invalidation import ItemWrite, item_write
from tests.stac_api.sample_catalog import MONTPELLIER, PROVENCE, UTM_31N, landcover_item
from tile_generations import (
    CELL_MAXZOOM,
    NAMESPACE_SQL,
    WMQ,
    catalog_key,
    cell_key,
    item_key,
)

KEY = "k3y-for-tests"
WRITES = Settings(_env_file=None, enable_transactions_extensions=True)


def test_writes_without_keys_refuse_to_build() -> None:
    with pytest.raises(WritesWithoutKeysError, match="EARTHSIG_API_KEYS"):
        create_app(WRITES, auth=AuthSettings(_env_file=None))


def test_every_write_route_is_guarded_and_search_is_not() -> None:
    app = create_app(WRITES, auth=AuthSettings(_env_file=None, keys=[KEY]))
    guarded = {(s["method"], s["path"]) for s in write_scopes(app)}
    assert {
        ("POST", "/collections"),
        ("PUT", "/collections/{collection_id}"),
        ("PATCH", "/collections/{collection_id}"),
        ("DELETE", "/collections/{collection_id}"),
        ("POST", "/collections/{collection_id}/items"),
        ("PUT", "/collections/{collection_id}/items/{item_id}"),
        ("PATCH", "/collections/{collection_id}/items/{item_id}"),
        ("DELETE", "/collections/{collection_id}/items/{item_id}"),
        ("POST", "/collections/{collection_id}/bulk_items"),
    } == guarded
    schemes = app.openapi()["components"]["securitySchemes"]
    assert [s["name"] for s in schemes.values()] == ["X-API-Key"]


@pytest.fixture
def writable(catalog_dsn: str, pg_env: dict[str, str]) -> Iterator[TestClient]:
    pg = PostgresSettings(_env_file=None, **{k.lower(): v for k, v in pg_env.items()})
    auth = AuthSettings(_env_file=None, keys=["other-key", KEY])
    with TestClient(create_app(WRITES, pg, auth=auth)) as client:
        yield client


def test_item_writes_need_the_key(writable: TestClient) -> None:
    item = landcover_item(MONTPELLIER).to_dict()
    item["id"] = "new-item"
    url = "/collections/landcover/items"
    anonymous = writable.post(url, json=item)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
    assert anonymous.json()["code"] == "Unauthorized"
    wrong = writable.post(url, json=item, headers={"X-API-Key": "guess"})
    assert (wrong.status_code, wrong.json()["code"]) == (403, "Forbidden")
    assert writable.get(f"{url}/new-item").status_code == 404  # nothing was written
    created = writable.post(url, json=item, headers={"X-API-Key": KEY})
    assert created.status_code == 201, created.text
    assert writable.get(f"{url}/new-item").status_code == 200  # reads need no key
    assert writable.delete(f"{url}/new-item").status_code == 401
    assert writable.delete(f"{url}/new-item", headers={"X-API-Key": KEY}).status_code == 200
    assert writable.get(f"{url}/new-item").status_code == 404


def test_an_item_posted_to_a_missing_collection_is_a_404(writable: TestClient) -> None:
    # pgstac finds no partition for the item's collection: the client's fault, not a 500.
    item = landcover_item(MONTPELLIER).to_dict()
    item["id"], item["collection"] = "orphan-item", "no-such-collection"
    response = writable.post("/collections/no-such-collection/items", json=item,
                             headers={"X-API-Key": KEY})
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "NotFoundError"
    assert "no-such-collection" in response.json()["description"]
    assert writable.get("/collections/landcover/items/orphan-item").status_code == 404


def test_collection_writes_need_the_key(writable: TestClient) -> None:
    collection = writable.get("/collections/landcover").json()
    collection["title"] = "Renamed"
    assert writable.put("/collections/landcover", json=collection).status_code == 401
    renamed = writable.put("/collections/landcover", json=collection,
                           headers={"X-API-Key": "other-key"})
    assert renamed.status_code == 200, renamed.text
    assert writable.get("/collections/landcover").json()["title"] == "Renamed"


def test_reads_stay_public_with_writes_on(writable: TestClient) -> None:
    assert writable.post("/search", json={"categories": ["221"]}).status_code == 200
    found = writable.get("/search", params={"ids": PROVENCE.item_id}).json()
    assert [f["id"] for f in found["features"]] == [PROVENCE.item_id]
    conformance = writable.get("/conformance").json()["conformsTo"]
    assert [c for c in conformance if "transaction" in c]


def _cell_at(x: float, y: float) -> tuple[int, int, int]:
    """The z12 map cell over a point of UTM 31N."""
    lon, lat = Transformer.from_crs(UTM_31N, "EPSG:4326", always_xy=True).transform(x, y)
    tile = WMQ.tile(lon, lat, CELL_MAXZOOM)
    return tile.z, tile.x, tile.y


def test_successful_writes_mark_the_tiles_they_change(catalog_dsn: str, pg_env: dict[str, str],
                                                      redis_url: str) -> None:
    pg = PostgresSettings(_env_file=None, **{k.lower(): v for k, v in pg_env.items()})
    auth = AuthSettings(_env_file=None, keys=[KEY])
    store = TileStoreSettings(_env_file=None, tile_store_url=redis_url)
    with psycopg.connect(catalog_dsn) as conn:
        namespace = conn.execute(NAMESPACE_SQL).fetchone()[0]
    tokens = redis.Redis.from_url(redis_url)
    # Cells only one of the two sample tiles covers (31TEJ west of 31TFJ; they overlap 10 km).
    west = cell_key(namespace, *_cell_at(520_000, 4_850_000))
    east = cell_key(namespace, *_cell_at(690_000, 4_850_000))
    keys = {"catalog": catalog_key(namespace), "west": west, "east": east,
            "item": item_key(namespace, "landcover", "new-item"),
            "other": item_key(namespace, "landcover", PROVENCE.item_id)}

    def now() -> dict[str, bytes | None]:
        return {name: tokens.get(key) for name, key in keys.items()}

    def changed(before: dict[str, bytes | None]) -> set[str]:
        after = now()
        return {name for name in keys if after[name] != before[name]}

    item = landcover_item(MONTPELLIER).to_dict()
    item["id"] = "new-item"
    url = "/collections/landcover/items"
    key = {"X-API-Key": KEY}
    with TestClient(create_app(WRITES, pg, auth=auth, tile_store=store)) as client:
        start = now()
        assert client.post(url, json=item).status_code == 401  # refused: nothing marked
        assert client.post(url, json=item, headers={"X-API-Key": "wrong"}).status_code == 403
        assert client.post("/search", json={"limit": 1}).status_code == 200  # a read
        assert changed(start) == set()
        assert client.post(url, json=item, headers=key).status_code == 201
        assert changed(start) == {"item", "west"}  # the item and the cells under it only
        before = now()
        moved = {**landcover_item(PROVENCE).to_dict(), "id": "new-item"}
        assert client.put(f"{url}/new-item", json=moved, headers=key).status_code == 200
        assert changed(before) == {"item", "west", "east"}  # where it was and where it is
        before = now()
        assert client.delete(f"{url}/nope", headers=key).status_code == 404
        assert changed(before) == set()
        assert client.delete(f"{url}/new-item", headers=key).status_code == 200
        assert changed(before) == {"item", "east"}  # where it was
        before = now()
        bulk = {"items": {"new-item": item}, "method": "insert"}
        assert client.post("/collections/landcover/bulk_items", json=bulk,
                           headers=key).status_code == 200
        assert changed(before) == {"item", "west"}
        before = now()
        collection = client.get("/collections/landcover").json()
        assert client.put("/collections/landcover", json=collection,
                          headers=key).status_code == 200
        assert changed(before) == {"catalog"}  # its default render may have changed


def test_writes_the_middleware_cannot_place_mark_the_catalog() -> None:
    assert item_write("/collections/c/items", "", b"not json") is None
    assert item_write("/collections/c", "", b"{}") is None
    assert item_write("/collections/c/items/a%2Fb", "", b"") == ItemWrite("c", ("a/b",))
    assert item_write("/api/collections/c/items", "/api",
                      b'{"type": "FeatureCollection", "features": [{"id": "x"}, {"id": "y"}]}'
                      ) == ItemWrite("c", ("x", "y"))
