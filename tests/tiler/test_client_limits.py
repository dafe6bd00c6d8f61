"""Hostile clients against a real tiler process (issue 25): search registrations bounded in
size, rate and number, forgotten when no map uses them and kept while one does; bodies
bounded; a stuck statement (search info, mosaic tile) answered 503 naming its limit while other
tiles are drawn.

Each step speaks as its own client address (``X-Forwarded-For``, trusted from 127.0.0.1)
unless it tests one client's budget.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.servers import uvicorn_server
from tests.stac_api.test_client_limits import _refused, _ring
from tests.tiler.landcover_data import FOREST_RGBA, FOREST_SPOT, WATER_RGBA, WATER_SPOT
from tests.tiler.test_app import CLC, TILE, cog_xyz, item_xyz
from tests.tiles import ZOOM, colour_at, tile_of, tile_url

LIMITS = {"MAX_IDS": "3", "MAX_VERTICES": "20", "MAX_SEARCHES": "5", "MAX_BODY_BYTES": "4096",
          "RATE_WRITE": "3/minute", "STATEMENT_TIMEOUT_S": "1", "SEARCH_KEEP_DAYS": "30"}
_addresses = count(1)


def _client() -> dict[str, str]:
    return {"X-Forwarded-For": f"10.26.0.{next(_addresses)}"}


@pytest.fixture
def limited(tiler_env: dict[str, str], redis_url: str) -> Iterator[str]:
    env = {**tiler_env, "EARTHSIG_RATE_LIMIT_URL": redis_url,
           **{f"EARTHSIG_TILER_{k}": v for k, v in LIMITS.items()}}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        yield url


def _register(url: str, search: dict, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/searches/register", json=search, headers=headers or _client(),
                      timeout=30)


def _kept(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {h for (h,) in conn.execute("SELECT hash FROM pgstac.searches")}


def _age(dsn: str, search_id: str, days: int) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE pgstac.searches SET lastused = now() - make_interval(days => %s) "
                     "WHERE hash = %s", [days, search_id])


def _polygon(n: int) -> dict:
    return {"collections": ["landcover"],
            "intersects": {"type": "Polygon", "coordinates": [_ring(n)]}}


def test_registrations_are_bounded_forgotten_and_kept_while_used(
        limited: str, pgstac_dsn: str) -> None:
    a = _register(limited, {"collections": ["landcover"], "ids": ["x", "y", "z"]})
    assert a.status_code == 200, a.text
    _refused(_register(limited, {"collections": ["landcover"], "ids": ["w", "x", "y", "z"]}),
             "ids", 3, 4)
    b = _register(limited, _polygon(20))
    assert b.status_code == 200, b.text
    _refused(_register(limited, _polygon(21)), "vertices", 20, 21)
    ids = {"a": a.json()["id"], "b": b.json()["id"]}
    for name in ("c", "d", "e"):
        ids[name] = _register(limited, {"collections": [name]}).json()["id"]
    assert _kept(pgstac_dsn) == set(ids.values())
    # Full: a new search is refused, naming the limit; one already kept is registered again.
    _refused(_register(limited, {"collections": ["f"]}), "registered_searches", 5, 6)
    assert _register(limited, {"collections": ["landcover"], "ids": ["x", "y", "z"]}
                     ).json()["id"] == ids["a"]
    # Unused for longer than kept: forgotten at the next registration, which then fits.
    _age(pgstac_dsn, ids["a"], 40)
    ids["f"] = _register(limited, {"collections": ["f"]}).json()["id"]
    assert ids["a"] not in _kept(pgstac_dsn) and ids["f"] in _kept(pgstac_dsn)
    # A map asking for a search keeps it, however old its registration.
    _age(pgstac_dsn, ids["b"], 40)
    _age(pgstac_dsn, ids["c"], 40)
    assert httpx.get(f"{limited}/searches/{ids['b']}/info").status_code == 200
    assert _register(limited, {"collections": ["g"]}).status_code == 200
    kept = _kept(pgstac_dsn)
    assert ids["b"] in kept and ids["c"] not in kept


def test_one_client_registers_within_its_budget(limited: str) -> None:
    client = _client()
    search = {"collections": ["landcover"]}
    assert all(_register(limited, search, client).status_code == 200 for _ in range(3))
    refused = _register(limited, search, client)
    assert refused.status_code == 429, refused.text
    assert refused.json()["limit"] == "rate_write"
    assert "EARTHSIG_TILER_RATE_WRITE" in refused.json()["description"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert _register(limited, search).status_code == 200  # another client


def test_oversized_body_is_413(limited: str) -> None:
    body = b'{"collections": ["landcover"]' + b" " * 4096 + b"}"
    _refused(httpx.post(f"{limited}/searches/register", content=body, headers={
        **_client(), "content-type": "application/json"}), "body_bytes", 4096, len(body),
        status=413)


def test_stuck_statement_is_503_while_health_answers(limited: str, pgstac_dsn: str) -> None:
    search_id = _register(limited, {"collections": ["landcover"]}).json()["id"]
    with psycopg.connect(pgstac_dsn) as lock, concurrent.futures.ThreadPoolExecutor(1) as pool:
        lock.execute("LOCK TABLE pgstac.searches IN ACCESS EXCLUSIVE MODE")
        stuck = pool.submit(httpx.get, f"{limited}/searches/{search_id}/info", timeout=30)
        assert httpx.get(f"{limited}/healthz", timeout=30).status_code == 200
        answer = stuck.result()
        lock.rollback()
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "StatementTimeout"
    assert "EARTHSIG_TILER_STATEMENT_TIMEOUT_S" in answer.json()["description"]


def test_stuck_mosaic_tile_is_503_while_other_tiles_are_drawn(
        limited: str, pgstac_dsn: str, landcover_item: dict, landcover_cog: Path) -> None:
    """A mosaic tile whose item query cannot finish (the items locked, as a stuck writer or a
    pathological search would hold it) ends in a 503 naming the statement timeout, while
    tiles that do not need that query are drawn meanwhile, right."""
    search_id = _register(limited, {"collections": ["landcover"]}).json()["id"]
    mosaic = f"{limited}/searches/{search_id}/{TILE}?{CLC}"
    item_tiles = item_xyz(limited)
    assert colour_at(mosaic, WATER_SPOT) == WATER_RGBA  # the mosaic works unlocked
    assert colour_at(item_tiles, WATER_SPOT) == WATER_RGBA  # and its item is now cached
    with psycopg.connect(pgstac_dsn) as lock, concurrent.futures.ThreadPoolExecutor(1) as pool:
        lock.execute("LOCK TABLE pgstac.items IN ACCESS EXCLUSIVE MODE")
        stuck = pool.submit(httpx.get, tile_url(mosaic, tile_of(FOREST_SPOT, ZOOM)),
                            timeout=30)
        drawn = [colour_at(item_tiles, FOREST_SPOT),
                 colour_at(cog_xyz(limited, landcover_cog), FOREST_SPOT),
                 colour_at(cog_xyz(limited, landcover_cog), WATER_SPOT)]
        answer = stuck.result()
        lock.rollback()
    assert drawn == [FOREST_RGBA, FOREST_RGBA, WATER_RGBA]
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["code"] == "StatementTimeout" and body["limit"] == "statement_seconds"
    assert "EARTHSIG_TILER_STATEMENT_TIMEOUT_S" in body["description"]
    assert colour_at(mosaic, FOREST_SPOT) == FOREST_RGBA  # unlocked: drawn again
