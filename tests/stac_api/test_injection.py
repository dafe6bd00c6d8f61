"""Writes need the key, and SQL/CQL2 injection through any search input changes nothing.

A real uvicorn API with writes on serves a pgstac database holding the sample catalog and a
canary table. Every write route is tried without a key and with a wrong one (401/403, nothing
written), then with the right key (201/200, exactly the change asked for). Injection payloads go
through ids, collection ids, cql2-text and cql2-json filters, sortby, fields, bbox, datetime,
free text, categories, query, intersects, limit and the pagination token, on GET and POST: each
is answered without a 5xx and the database is byte-for-byte what it was (item and collection
contents, the canary row, the tables). The figures of docs/reliability.md, "Writes and
injection", are this module's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest

from infra.postgres import libpq_env
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.register import refresh_collection
from tests.servers import uvicorn_server
from tests.stac_api.sample_catalog import (
    MONTPELLIER,
    PRODUCTS,
    landcover_item,
    load_catalog,
)

KEY = "injection-test-key"
CANARY = "canary-7f3a"
ITEM_URL = "/collections/landcover/items"

# Inputs that select items: with an injected payload a 200 must select none.
FILTERING = {"ids", "collections", "filter", "q", "categories", "query", "intersects", "bbox",
             "datetime"}
PAYLOADS = [
    "'; DROP TABLE earthsig_canary; --",
    "' OR '1'='1",
    "' OR 1=1 --",
    "x'); DELETE FROM pgstac.items; --",
    "1; UPDATE earthsig_canary SET secret = 'owned'",
    "' UNION SELECT secret FROM earthsig_canary --",
    '"; DROP TABLE earthsig_canary; --',
    "$$; DROP TABLE earthsig_canary; $$",
    "\\'; TRUNCATE pgstac.items; --",
    "’ OR ’1’=’1",
    "landcover' AND pg_sleep(0) IS NOT NULL --",
    "*",
    "%",
    "\x00",
]


def _snapshot(dsn: str) -> dict[str, Any]:
    """What injection must not change (pgstac's search cache, written by every search, aside)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("""
            SELECT (SELECT count(*) FROM pgstac.items),
                   (SELECT md5(string_agg(id || content::text, ',' ORDER BY id))
                      FROM pgstac.items),
                   (SELECT count(*) FROM pgstac.collections),
                   (SELECT md5(string_agg(id || content::text, ',' ORDER BY id))
                      FROM pgstac.collections),
                   (SELECT string_agg(secret, ',') FROM public.earthsig_canary),
                   (SELECT string_agg(table_schema || '.' || table_name, ','
                                      ORDER BY table_schema, table_name)
                      FROM information_schema.tables
                     WHERE table_schema IN ('public', 'pgstac'))
        """).fetchone()
    assert row is not None
    keys = ("items", "items_md5", "collections", "collections_md5", "canary", "tables")
    return dict(zip(keys, row, strict=True))


@pytest.fixture(scope="module")
def served(module_pgstac_dsn: str) -> Iterator[tuple[str, str]]:
    """(API URL, database DSN) with writes on and a canary row."""
    load_catalog(module_pgstac_dsn, [landcover_item(p) for p in PRODUCTS])
    # As the pipeline leaves it: the extent and models summary those of its items, which every
    # write through the API refreshes too (so a write that changes neither leaves them as is).
    with pgstac_session(module_pgstac_dsn) as db:
        refresh_collection(db, "landcover", models=True)
    with psycopg.connect(module_pgstac_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.earthsig_canary (id int PRIMARY KEY, secret text)")
        conn.execute("INSERT INTO public.earthsig_canary VALUES (1, %s)", (CANARY,))
    env = {**libpq_env(module_pgstac_dsn), "ENABLE_TRANSACTIONS_EXTENSIONS": "true",
           "EARTHSIG_API_KEYS": f"other-key,{KEY}"}
    with uvicorn_server("stac_api.app:create_app", env, health_path="/_mgmt/health") as url:
        yield url, module_pgstac_dsn


def _new_item(item_id: str) -> dict[str, Any]:
    item = landcover_item(MONTPELLIER).to_dict()
    item["id"] = item_id
    return item


def _write_requests(api: str) -> list[tuple[str, str, Any]]:
    """(method, URL, JSON body) of a request to every write route, each a valid write."""
    collection = httpx.get(f"{api}/collections/landcover").json()
    collection["links"] = []
    other = {**collection, "id": "other-collection"}
    item = _new_item("written-item")
    return [
        ("POST", f"{api}{ITEM_URL}", item),
        ("POST", f"{api}{ITEM_URL}", {"type": "FeatureCollection", "features": [item]}),
        ("PUT", f"{api}{ITEM_URL}/{MONTPELLIER.item_id}",
         {**landcover_item(MONTPELLIER).to_dict(), "properties": {
             **landcover_item(MONTPELLIER).to_dict()["properties"], "title": "changed"}}),
        ("PATCH", f"{api}{ITEM_URL}/{MONTPELLIER.item_id}", {"properties": {"title": "patched"}}),
        ("DELETE", f"{api}{ITEM_URL}/{MONTPELLIER.item_id}", None),
        ("POST", f"{api}/collections", other),
        ("PUT", f"{api}/collections/landcover", {**collection, "title": "changed"}),
        ("PATCH", f"{api}/collections/landcover", {"title": "patched"}),
        ("DELETE", f"{api}/collections/landcover", None),
        ("POST", f"{api}/collections/landcover/bulk_items",
         {"items": {"bulk-item": _new_item("bulk-item")}, "method": "insert"}),
    ]


def test_writes_without_a_key_or_with_a_wrong_one_change_nothing(
    served: tuple[str, str]
) -> None:
    api, dsn = served
    before = _snapshot(dsn)
    tried = 0
    for method, url, body in _write_requests(api):
        for headers, status in (({}, 401), ({"X-API-Key": "guess"}, 403),
                                ({"X-API-Key": f"x{KEY}"}, 403), ({"X-API-Key": KEY[:-1]}, 403),
                                ({"x-api-key": "' OR '1'='1"}, 403)):
            response = httpx.request(method, url, json=body, headers=headers)
            tried += 1
            assert response.status_code == status, (method, url, headers, response.text)
            assert response.json()["code"] in ("Unauthorized", "Forbidden")
        # A write without a body is refused for its missing key first, not its missing body.
        assert httpx.request(method, url).status_code == 401
    assert _snapshot(dsn) == before
    print(f"{tried} unauthorised writes: all refused, database unchanged")


def test_a_keyed_write_without_a_body_is_a_400_not_a_500(served: tuple[str, str]) -> None:
    """stac-fastapi passes a missing body on as None and fails on it (a 500)."""
    api, dsn = served
    before = _snapshot(dsn)
    for method, path in (("POST", ITEM_URL), ("PUT", f"{ITEM_URL}/{MONTPELLIER.item_id}"),
                         ("POST", "/collections"), ("PUT", "/collections/landcover")):
        response = httpx.request(method, f"{api}{path}", headers={"X-API-Key": KEY})
        assert response.status_code == 400, (method, path, response.text)
        assert "needs a JSON body" in response.json()["description"]
    assert _snapshot(dsn) == before


def test_a_keyed_write_does_exactly_what_it_says(served: tuple[str, str]) -> None:
    """An id that reads as SQL is refused if upstream forbids its characters, else stored
    under that literal id, and nothing else changes."""
    api, dsn = served
    before = _snapshot(dsn)
    refused = httpx.post(f"{api}{ITEM_URL}", json=_new_item("x'); DELETE FROM pgstac.items; --"),
                         headers={"X-API-Key": KEY})
    assert refused.status_code == 400, refused.text
    assert "cannot contain" in refused.json()["description"]
    assert _snapshot(dsn) == before
    odd_id = 'x" -- DROP TABLE earthsig_canary'
    created = httpx.post(f"{api}{ITEM_URL}", json=_new_item(odd_id), headers={"X-API-Key": KEY})
    assert created.status_code == 201, created.text
    after = _snapshot(dsn)
    assert after["items"] == before["items"] + 1
    assert (after["canary"], after["tables"]) == (before["canary"], before["tables"])
    read = httpx.get(f"{api}{ITEM_URL}/{odd_id}")  # httpx percent-encodes the path
    assert read.status_code == 200 and read.json()["id"] == odd_id
    deleted = httpx.delete(f"{api}{ITEM_URL}/{odd_id}", headers={"X-API-Key": KEY})
    assert deleted.status_code == 200, deleted.text
    assert _snapshot(dsn) == before


def _injections(payload: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, params or body) sending ``payload`` through every search input."""
    quoted = payload.replace("'", "''")
    segment = quote(payload, safe="")  # a path segment, percent-encoded as a client sends it
    as_json = json.dumps(payload)
    return [
        ("GET", "/search", {"ids": payload}),
        ("GET", "/search", {"collections": payload}),
        ("GET", "/search", {"filter": f"id = '{quoted}'"}),
        # Pasted unescaped into cql2-text: `id = '' OR '1'='1'` is a valid CQL2 filter the
        # *client* wrote (it may match everything); the server must still only read.
        ("GET", "/search", {"filter": f"id = '{payload}'", "raw": True}),
        ("GET", "/search", {"filter": payload, "raw": True}),
        ("GET", "/search", {"filter": f'"{payload}" = 1'}),
        ("GET", "/search", {"filter-lang": "cql2-json",
                            "filter": json.dumps({"op": "=", "args": [{"property": "id"},
                                                                      payload]})}),
        ("GET", "/search", {"sortby": payload}),
        ("GET", "/search", {"sortby": f"-id,{payload}"}),
        ("GET", "/search", {"fields": payload}),
        ("GET", "/search", {"fields": f"properties.{payload}"}),
        ("GET", "/search", {"bbox": payload}),
        ("GET", "/search", {"bbox": f"1,2,3,4{payload}"}),
        ("GET", "/search", {"datetime": payload}),
        ("GET", "/search", {"datetime": f"2024-06-01T00:00:00Z/{payload}"}),
        ("GET", "/search", {"q": payload}),
        ("GET", "/search", {"categories": payload}),
        ("GET", "/search", {"query": json.dumps({"eo:cloud_cover": {"eq": payload}})}),
        ("GET", "/search", {"query": json.dumps({payload: {"eq": 1}})}),
        ("GET", "/search", {"intersects": as_json}),
        ("GET", "/search", {"limit": payload}),
        ("GET", "/search", {"token": f"next:{payload}"}),
        ("GET", "/search", {"token": payload}),
        ("GET", f"/collections/{segment}", {}),
        ("GET", f"/collections/{segment}/items", {}),
        ("GET", f"/collections/{segment}/queryables", {}),
        ("GET", f"{ITEM_URL}/{segment}", {}),
        ("GET", ITEM_URL, {"filter": f"id = '{quoted}'", "sortby": payload}),
        ("GET", "/collections", {"q": payload}),
        ("POST", "/search", {"ids": [payload]}),
        ("POST", "/search", {"collections": [payload]}),
        ("POST", "/search", {"filter": {"op": "=", "args": [{"property": "id"}, payload]}}),
        ("POST", "/search", {"filter": {"op": payload, "args": [{"property": "id"}, 1]}}),
        ("POST", "/search", {"filter": {"op": "=", "args": [{"property": payload}, 1]}}),
        ("POST", "/search", {"filter": {"op": "in", "args": [{"property": "id"},
                                                             [payload, "' OR 1=1"]]}}),
        ("POST", "/search", {"sortby": [{"field": payload, "direction": "asc"}]}),
        ("POST", "/search", {"fields": {"include": [payload], "exclude": [payload]}}),
        ("POST", "/search", {"datetime": payload}),
        ("POST", "/search", {"q": [payload]}),
        ("POST", "/search", {"categories": [payload]}),
        ("POST", "/search", {"query": {"id": {"eq": payload}}}),
        ("POST", "/search", {"token": f"next:{payload}"}),
    ]


def test_injection_through_search_inputs_changes_nothing(served: tuple[str, str]) -> None:
    api, dsn = served
    before = _snapshot(dsn)
    tried, statuses, wrong = 0, {}, []
    with httpx.Client(base_url=api, timeout=30) as client:
        for payload in PAYLOADS:
            for method, path, arguments in _injections(payload):
                raw = bool(arguments.pop("raw", False))
                if method == "GET":
                    response = client.get(path, params=arguments)
                else:
                    response = client.post(path, json=arguments)
                tried += 1
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500 or CANARY in response.text:
                    wrong.append(f"{method} {path} {arguments!r}: {response.status_code} "
                                 f"{response.text[:200]}")
                elif response.status_code == 200 and set(arguments) & FILTERING and not raw:
                    # An injected OR 1=1 would return the whole catalog.
                    body = response.json()
                    found = body.get("features", body.get("collections"))
                    assert found == [], (method, path, arguments)
    after = _snapshot(dsn)
    print(f"{tried} injection attempts ({len(PAYLOADS)} payloads): statuses {statuses}; "
          f"database unchanged: {after == before}")
    assert not wrong, "\n".join(wrong)
    assert after == before


@pytest.mark.parametrize("q", ["'", "a --", "'; DROP TABLE earthsig_canary; --"])
@pytest.mark.parametrize(("method", "path"), [("GET", "/search"), ("POST", "/search"),
                                              ("GET", "/collections")])
def test_free_text_postgresql_cannot_parse_is_a_400(
    served: tuple[str, str], q: str, method: str, path: str
) -> None:
    """pgstac hands `q` to to_tsquery, whose syntax error was a 500."""
    api, _ = served
    if method == "GET":
        response = httpx.get(f"{api}{path}", params={"q": q})
    else:
        response = httpx.post(f"{api}{path}", json={"q": [q]})
    assert response.status_code == 400, response.text
    assert "free-text query q cannot be read" in response.json()["description"]


@pytest.mark.parametrize("path", ["/collections/%00", "/collections/%00/items",
                                  "/collections/%00/queryables",
                                  f"{ITEM_URL}/%00", "/search?ids=%00"])
def test_a_nul_character_is_a_400(served: tuple[str, str], path: str) -> None:
    """PostgreSQL text cannot hold NUL; asyncpg's refusal was a 500 outside searches."""
    response = httpx.get(f"{served[0]}{path}")
    assert response.status_code == 400, response.text
    assert response.json()["code"] in ("InvalidParameter", "InvalidSearch")


def test_a_nul_character_in_a_keyed_write_is_a_400(served: tuple[str, str]) -> None:
    api, dsn = served
    before = _snapshot(dsn)
    item = _new_item("nul-item")
    item["properties"]["title"] = "a\x00b"
    response = httpx.post(f"{api}{ITEM_URL}", json=item, headers={"X-API-Key": KEY})
    assert response.status_code == 400, response.text
    assert _snapshot(dsn) == before
