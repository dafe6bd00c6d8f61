"""Every bad request is a 400 with ``{code, description}`` naming the problem, never a 500;
unknown collections and items are 404s. Over HTTP against a real server and pgstac."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

GET, POST = "GET", "POST"

CASES = [
    # (method, params or body, code, words the description must contain)
    (GET, {"bbox": "1,2,3"}, "InvalidParameter", "has 3 numbers, not 4"),
    (GET, {"bbox": "a,b,c,d"}, "InvalidParameter", "is not a number"),
    (GET, {"bbox": "10,50,0,40"}, "InvalidParameter", "south 50 is above its north 40"),
    (POST, {"bbox": [10, 50, 0]}, "InvalidParameter", "bbox"),
    (GET, {"datetime": "yesterday"}, "InvalidParameter", "RFC 3339"),
    (GET, {"datetime": "2024-13-01T00:00:00Z"}, "InvalidParameter", "month"),
    (GET, {"datetime": "2024-07-01T00:00:00Z/2024-06-01T00:00:00Z"}, "InvalidParameter",
     "is after its end"),
    (POST, {"datetime": "bad"}, "InvalidParameter", "datetime"),
    (GET, {"limit": "0"}, "InvalidParameter", "limit"),
    (GET, {"limit": "ten"}, "InvalidParameter", "limit"),
    (POST, {"limit": -1}, "InvalidParameter", "limit"),
    (GET, {"filter": "eo:cloud_cover >"}, "InvalidFilter", "cql2-text"),
    (GET, {"filter": "{\"op\": ", "filter-lang": "cql2-json"}, "InvalidFilter", "cql2-json"),
    (GET, {"filter": "eo:cloud_cover = 'abc'"}, "InvalidSearch", "double precision"),
    (POST, {"filter": {"op": "frobnicate", "args": [1, 2]}}, "InvalidSearch", "frobnicate"),
    (GET, {"intersects": "{not json"}, "InvalidSearch", "not valid JSON"),
    (GET, {"sortby": "-nope"}, "InvalidSortField", "nope"),
    (POST, {"sortby": [{"field": "clc:fraction_999", "direction": "asc"}]},
     "InvalidSortField", "clc:fraction_999"),
    (GET, {"filter": "eo:cloud_covr < 10"}, "UnknownFilterProperty", "eo:cloud_covr"),
    (GET, {"filter": "clc:fraction_221 > 0.2 AND sat:orbit_state = 'x'",
           "collections": "landcover"},
     "UnknownFilterProperty", "sat:orbit_state: not a queryable of collection landcover"),
    (POST, {"filter": {"op": "<", "args": [{"property": "properties.cloud"}, 10]}},
     "UnknownFilterProperty", "properties.cloud"),
    (POST, {"filter": {"op": ">", "args": [{"property": "clc:fraction_999"}, 0]},
            "collections": ["landcover"]}, "UnknownFilterProperty", "clc:fraction_999"),
    (GET, {"categories": "jungle"}, "UnknownCategory", "jungle"),
    (POST, {"categories": ["999"]}, "UnknownCategory", "999"),
    (GET, {"min_fraction": "0.2"}, "InvalidCategorySearch", "needs categories"),
    (GET, {"categories": "221", "min_fraction": "20"}, "InvalidParameter", "min_fraction"),
]


@pytest.mark.parametrize(("method", "arguments", "code", "words"), CASES)
def test_bad_search_is_a_400_naming_the_problem(
    api_url: str, method: str, arguments: dict[str, Any], code: str, words: str
) -> None:
    if method == GET:
        response = httpx.get(api_url + "/search", params=arguments)
    else:
        response = httpx.post(api_url + "/search", json=arguments)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == code
    assert words in body["description"]


def test_items_route_answers_the_same_errors(api_url: str) -> None:
    response = httpx.get(api_url + "/collections/landcover/items", params={"sortby": "nope"})
    assert (response.status_code, response.json()["code"]) == (400, "InvalidSortField")


def test_items_route_refuses_a_filter_on_an_unknown_property(api_url: str) -> None:
    response = httpx.get(api_url + "/collections/landcover/items",
                         params={"filter": "eo:cloud_cover < 10 AND nope = 1"})
    assert (response.status_code, response.json()["code"]) == (400, "UnknownFilterProperty")
    assert "nope" in response.json()["description"]
    assert "/collections/landcover/queryables" in response.json()["description"]


@pytest.mark.parametrize("path", ["/nowhere", "/collections/unknown/queryables"])
def test_unknown_paths_are_json_404s(api_url: str, path: str) -> None:
    response = httpx.get(api_url + path)
    assert response.status_code == 404
    assert {"code", "description"} <= set(response.json())


def test_wrong_method_keeps_allow_header(api_url: str) -> None:
    response = httpx.delete(api_url + "/search")
    assert response.status_code == 405
    assert response.json()["code"] == "MethodNotAllowed"
    # Starlette names the methods of the first route matching the path (GET and POST /search
    # are two routes): the point is that our handler keeps the header.
    assert response.headers["allow"] in ("GET", "POST")


@pytest.mark.parametrize(("body", "kind"), [(b"null", "null"), (b"[1, 2]", "an array"),
                                            (b"3", "a number"), (b'"bbox"', "a string")])
def test_a_search_body_that_is_not_an_object_is_a_400(api_url: str, body: bytes,
                                                       kind: str) -> None:
    response = httpx.post(api_url + "/search", content=body,
                          headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert f"needs a JSON object of search parameters, not {kind}" in \
        response.json()["description"]

