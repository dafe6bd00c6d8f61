"""The two caches of the search path (docs/benchmarks.md, "Catalog at scale"): CQL2 validation
remembered per document, and pgstac's queryables reused for ``EARTHSIG_API_QUERYABLES_CACHE_S``."""

from __future__ import annotations

import json
import time

import httpx
import psycopg
import pytest

from infra.postgres import libpq_env
from stac_api.filters import InvalidFilter, parse
from tests.servers import uvicorn_server
from tests.stac_api.conftest import FACTORY, HEALTH_PATH

NON_BOOLEAN = {"property": "eo:cloud_cover"}
VALID = {"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]}
# A property the sample items carry that is not a queryable until the test adds it.
NEW_QUERYABLE = "proj:code"
NEW_FILTER = f"\"{NEW_QUERYABLE}\" = 'EPSG:32631'"


def test_an_invalid_filter_is_refused_every_time_it_comes() -> None:
    """Only successes are remembered: a cached failure would let the second one through."""
    for _ in range(3):
        with pytest.raises(InvalidFilter, match="Invalid cql2-json filter"):
            parse(NON_BOOLEAN, "cql2-json")
    assert parse(VALID, "cql2-json") == parse(json.dumps(VALID), "cql2-json") == VALID


def test_the_same_filter_twice_through_the_api_finds_the_same_items(api_url: str) -> None:
    params = {"filter": "eo:cloud_cover < 100 AND A_CONTAINS(clc:classes, ('221'))"}
    first = httpx.get(api_url + "/search", params=params).json()
    again = httpx.get(api_url + "/search", params=params).json()
    assert [f["id"] for f in first["features"]] == [f["id"] for f in again["features"]]
    assert first["features"], "the sample catalog has vineyards"
    bad = httpx.get(api_url + "/search", params={"filter": "eo:cloud_cover"})
    assert (bad.status_code, bad.json()["code"]) == (400, "InvalidFilter")
    bad = httpx.get(api_url + "/search", params={"filter": "eo:cloud_cover"})
    assert (bad.status_code, bad.json()["code"]) == (400, "InvalidFilter")


def _add_new_queryable(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET search_path TO pgstac, public")
        conn.execute("INSERT INTO queryables (name, collection_ids, definition) VALUES "
                     "(%s, ARRAY['landcover'], '{\"type\": \"string\"}')", (NEW_QUERYABLE,))


def _search(url: str) -> httpx.Response:
    return httpx.get(url + "/search", params={"collections": "landcover",
                                              "filter": NEW_FILTER})


@pytest.mark.parametrize("ttl", [1.5, 0.0])
def test_a_new_queryable_is_accepted_once_the_cache_expires(catalog_dsn: str,
                                                            ttl: float) -> None:
    env = {**libpq_env(catalog_dsn), "EARTHSIG_API_QUERYABLES_CACHE_S": str(ttl)}
    with uvicorn_server(FACTORY, env, health_path=HEALTH_PATH) as url:
        refused = _search(url)
        assert (refused.status_code, refused.json()["code"]) == (400, "UnknownFilterProperty")
        _add_new_queryable(catalog_dsn)
        t_added = time.monotonic()
        soon = _search(url)
        if ttl:
            # Within the reuse time the earlier answer stands, unless the machine was so slow
            # that it has already run out.
            if time.monotonic() - t_added < ttl * 0.8:
                assert soon.status_code == 400, soon.text
            time.sleep(ttl + 0.2)
            soon = _search(url)
        assert soon.status_code == 200, soon.text
        assert soon.json()["features"], "the sample items are in UTM 31N"
