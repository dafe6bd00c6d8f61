"""Hostile clients against a real API process (issue 25): every limit accepted at the limit and
refused one past it, naming the limit; budgets answered 429 with a Retry-After that holds; a
slow body dropped; a stuck statement answered 503 while other requests are served; a query
whose client left cancelled in PostgreSQL.

Each test speaks as its own client address (``X-Forwarded-For``, which uvicorn takes from
127.0.0.1), so the budgets of one test do not leak into another.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import socket
import time
from collections.abc import Iterator
from itertools import count

import httpx
import psycopg
import pytest

from infra.postgres import libpq_env
from tests.servers import uvicorn_server
from tests.stac_api.conftest import FACTORY, HEALTH_PATH
from tests.stac_api.sample_catalog import PRODUCTS, landcover_item, load_catalog

LIMITS = {"MAX_IDS": "3", "MAX_COLLECTIONS": "2", "MAX_LIMIT": "50", "MAX_VERTICES": "20",
          "MAX_RINGS": "2", "MAX_CQL2_NODES": "14", "MAX_CQL2_DEPTH": "6",
          "MAX_BODY_BYTES": "4096", "BODY_TIMEOUT_S": "1", "RATE_SEARCH": "5/5second",
          "STATEMENT_TIMEOUT_S": "1", "KEYS": "reader-key"}
_addresses = count(1)


@pytest.fixture(scope="module")
def limited(module_pgstac_dsn: str, module_redis_url: str) -> Iterator[str]:
    load_catalog(module_pgstac_dsn, [landcover_item(p) for p in PRODUCTS])
    env = {**libpq_env(module_pgstac_dsn), "EARTHSIG_RATE_LIMIT_URL": module_redis_url,
           **{f"EARTHSIG_API_{k}": v for k, v in LIMITS.items()}}
    with uvicorn_server(FACTORY, env, health_path=HEALTH_PATH) as url:
        yield url


@pytest.fixture
def client() -> dict[str, str]:
    """Headers of a client address of its own."""
    return {"X-Forwarded-For": f"10.25.0.{next(_addresses)}"}


def _ring(n: int, x: float = 2.0, y: float = 48.0, r: float = 0.5) -> list[list[float]]:
    """A closed ring of ``n`` positions (``n - 1`` distinct) around (x, y)."""
    ring = [[x + r * math.cos(2 * math.pi * i / (n - 1)), y + r * math.sin(2 * math.pi * i /
                                                                          (n - 1))]
            for i in range(n - 1)]
    return [*ring, ring[0]]


def _refused(response: httpx.Response, limit: str, allowed: float, sent: float,
             status: int = 400) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == "LimitExceeded"
    assert (body["limit"], body["allowed"], body["sent"]) == (limit, allowed, sent)
    assert str(sent) in body["description"] and str(allowed) in body["description"]


def _in_ids(n: int) -> dict:
    """A filter of 4 + n CQL2 nodes, 5 deep (root, args, property and list, ids)."""
    return {"op": "in", "args": [{"property": "id"}, [f"x{i}" for i in range(n)]]}


# (limit name, the largest search accepted, the smallest refused, allowed, sent)
CASES = [
    ("ids", {"ids": ["a", "b", "c"]}, {"ids": ["a", "b", "c", "d"]}, 3, 4),
    ("collections", {"collections": ["landcover", "b"]}, {"collections": ["landcover", "b", "c"]},
     2, 3),
    ("vertices", {"intersects": {"type": "Polygon", "coordinates": [_ring(20)]}},
     {"intersects": {"type": "Polygon", "coordinates": [_ring(21)]}}, 20, 21),
    ("rings", {"intersects": {"type": "Polygon", "coordinates": [
        _ring(5), _ring(4, r=0.1)]}},
     {"intersects": {"type": "Polygon", "coordinates": [
         _ring(5), _ring(4, r=0.1), _ring(4, x=2.2, r=0.1)]}}, 2, 3),
    ("cql2_nodes", {"filter": _in_ids(10), "filter-lang": "cql2-json"},
     {"filter": _in_ids(11), "filter-lang": "cql2-json"}, 14, 15),
    ("cql2_depth",
     {"filter": {"op": "not", "args": [_in_ids(1)]}, "filter-lang": "cql2-json"},
     {"filter": {"op": "not", "args": [{"op": "not", "args": [
         {"op": "=", "args": [{"property": "id"}, "a"]}]}]}, "filter-lang": "cql2-json"}, 6, 7),
    ("vertices", {"filter": {"op": "s_intersects", "args": [
        {"property": "geometry"}, {"type": "Polygon", "coordinates": [_ring(20)]}]},
        "filter-lang": "cql2-json"},
     {"filter": {"op": "s_intersects", "args": [
         {"property": "geometry"}, {"type": "Polygon", "coordinates": [_ring(21)]}]},
      "filter-lang": "cql2-json"}, 20, 21),
]


@pytest.mark.parametrize(("limit", "at", "past", "allowed", "sent"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_search_accepted_at_its_limit_refused_past_it(
        limited: str, client: dict[str, str], limit: str, at: dict, past: dict, allowed: int,
        sent: int) -> None:
    accepted = httpx.post(f"{limited}/search", json=at, headers=client, timeout=30)
    assert accepted.status_code == 200, accepted.text
    _refused(httpx.post(f"{limited}/search", json=past, headers=client, timeout=30), limit,
             allowed, sent)


def test_get_search_and_items_are_limited_too(limited: str, client: dict[str, str]) -> None:
    _refused(httpx.get(f"{limited}/search", params={"ids": "a,b,c,d"}, headers=client), "ids",
             3, 4)
    text = "s_intersects(geometry, POLYGON((" + ",".join(
        f"{x} {y}" for x, y in _ring(21)) + ")))"
    _refused(httpx.get(f"{limited}/search", params={"filter": text}, headers=client),
             "vertices", 20, 21)
    assert httpx.get(f"{limited}/search", params={"ids": "a,b,c", "limit": 50},
                     headers=client).status_code == 200


def test_a_page_past_the_limit_is_served_capped_and_said(
        limited: str, client: dict[str, str]) -> None:
    """STAC API and OGC API Features: a limit above the maximum is no error; the service
    serves its maximum and says so (a Warning header), never silently."""
    at = httpx.post(f"{limited}/search", json={"limit": 50}, headers=client, timeout=30)
    assert at.status_code == 200 and "warning" not in at.headers
    for response in (
            httpx.post(f"{limited}/search", json={"limit": 51}, headers=client, timeout=30),
            httpx.get(f"{limited}/search", params={"limit": "51"}, headers=client),
            httpx.get(f"{limited}/collections/landcover/items", params={"limit": 5000},
                      headers=client)):
        assert response.status_code == 200, response.text
        warning = response.headers["warning"]
        assert warning.startswith("299 - ") and "the 50 items a page may hold" in warning
        assert "EARTHSIG_API_MAX_LIMIT" in warning
        assert len(response.json()["features"]) <= 50
        asked = response.request.url.params.get("limit") or json.loads(
            response.request.content)["limit"]
        assert f"limit={asked} " in warning


def test_body_size_refused_past_the_limit(limited: str, client: dict[str, str]) -> None:
    search = json.dumps({"collections": ["landcover"]}).encode()
    at = search[:-1] + b" " * (4096 - len(search)) + b"}"
    assert len(at) == 4096
    headers = {**client, "content-type": "application/json"}
    assert httpx.post(f"{limited}/search", content=at, headers=headers).status_code == 200
    _refused(httpx.post(f"{limited}/search", content=at + b" ", headers=headers),
             "body_bytes", 4096, 4097, status=413)

    def chunked() -> Iterator[bytes]:  # no Content-Length: refused once past the limit
        yield at
        yield b" " * 100

    refused = httpx.post(f"{limited}/search", content=chunked(), headers=headers)
    assert refused.status_code == 413 and refused.json()["limit"] == "body_bytes"


def test_a_slow_body_is_dropped(limited: str, client: dict[str, str]) -> None:
    host, port = limited.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"X-Forwarded-For: " + client["X-Forwarded-For"].encode() +
                     b"\r\nContent-Length: 1000\r\n\r\n{\"limit\": ")
        answer = b""
        while chunk := sock.recv(65536):  # the server answers, then closes: recv gives b""
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert json.loads(body)["limit"] == "body_seconds"


def test_budget_spent_is_429_with_a_retry_after_that_holds(
        limited: str, client: dict[str, str]) -> None:
    for _ in range(5):
        assert httpx.get(f"{limited}/search", headers=client).status_code == 200
    refused = httpx.get(f"{limited}/search", headers=client)
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["code"] == "TooManyRequests" and body["limit"] == "rate_search"
    assert "search budget of 5 requests per 5 second" in body["description"]
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 5 and body["retry_after_s"] == retry
    # Other budgets and other clients are untouched; a known key has ten times the budget.
    assert httpx.get(f"{limited}/collections", headers=client).status_code == 200
    other = {"X-Forwarded-For": f"10.25.0.{next(_addresses)}"}
    assert httpx.get(f"{limited}/search", headers=other).status_code == 200
    keyed = {**client, "X-API-Key": "reader-key"}
    assert all(httpx.get(f"{limited}/search", headers=keyed).status_code == 200
               for _ in range(10))
    invented = {**client, "X-API-Key": "made-up"}  # counts as the address: still spent
    assert httpx.get(f"{limited}/search", headers=invented).status_code == 429
    time.sleep(retry)
    assert httpx.get(f"{limited}/search", headers=client).status_code == 200


@pytest.fixture
def searches_locked(module_pgstac_dsn: str) -> Iterator[None]:
    """pgstac's searches table locked, as a stuck writer would hold it: every search waits."""
    with psycopg.connect(module_pgstac_dsn) as conn:
        conn.execute("LOCK TABLE pgstac.searches IN ACCESS EXCLUSIVE MODE")
        yield
        conn.rollback()


def test_stuck_statement_is_503_while_others_are_served(
        limited: str, client: dict[str, str], searches_locked: None) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        stuck = pool.submit(httpx.post, f"{limited}/search",
                            json={"collections": ["landcover"]}, headers=client, timeout=30)
        served = [httpx.get(f"{limited}/collections/landcover", headers=client, timeout=30)
                  for _ in range(5)]
        answer = stuck.result()
    assert all(r.status_code == 200 for r in served)
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["code"] == "StatementTimeout" and body["limit"] == "statement_seconds"
    assert "EARTHSIG_API_STATEMENT_TIMEOUT_S" in body["description"]


def _waiting_searches(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                           "'pgstac' AND state = 'active' AND query ILIKE '%search%'"
                           ).fetchone()
    return int(row[0]) if row else 0


def test_query_of_a_client_that_left_is_cancelled(
        module_pgstac_dsn: str, client: dict[str, str]) -> None:
    env = {**libpq_env(module_pgstac_dsn), "EARTHSIG_API_STATEMENT_TIMEOUT_S": "120"}
    with uvicorn_server(FACTORY, env, health_path=HEALTH_PATH) as url, \
            psycopg.connect(module_pgstac_dsn) as lock:
        lock.execute("LOCK TABLE pgstac.searches IN ACCESS EXCLUSIVE MODE")
        host, port = url.removeprefix("http://").split(":")
        body = b'{"ids": ["gone"]}'
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                         b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            deadline = time.monotonic() + 30
            while not _waiting_searches(module_pgstac_dsn) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _waiting_searches(module_pgstac_dsn) == 1  # the search waits for the lock
        # The client hung up. Without the cancellation the statement would wait for 120 s.
        deadline = time.monotonic() + 30
        while _waiting_searches(module_pgstac_dsn) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _waiting_searches(module_pgstac_dsn) == 0
        lock.rollback()
