"""Every refusal of a parameter is ours: ``{code, description}`` naming the parameter, what is
wrong with it and the form expected, in words (issue 22, point 4). Upstream's words (pydantic
dumps naming SearchPostRequest and Python types, "Interval string contains more than one
forward slash", "13: JSON decode error") never reach the client. Over HTTP, real server."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

GET, POST = "GET", "POST"
# Upstream's vocabulary: model and library names, Python types, parser internals.
LEAKS = re.compile(r"pydantic|SearchPostRequest|JSON decode|validation error|input_type|"
                   r"Value error|\b(str|int|float|dict|list|tuple|set|NoneType|bool)\b|"
                   r"Identifier|UnaryNot|oneOf|Interval string|forward slash|\bBBox\b")

CASES = [
    # (method, path, query or body, parameter, words the description must contain)
    (GET, "/search", {"datetime": "2024-08-01T00:00:00Z/2024-07-01T00:00:00Z"}, "datetime",
     "the interval's start 2024-08-01T00:00:00Z is after its end 2024-07-01T00:00:00Z"),
    (POST, "/search", {"datetime": "2024-08-01T00:00:00Z/2024-07-01T00:00:00Z"}, "datetime",
     "the interval's start 2024-08-01T00:00:00Z is after its end 2024-07-01T00:00:00Z"),
    (GET, "/collections", {"datetime": "2024-08-01T00:00:00Z/2024-07-01T00:00:00Z"},
     "datetime", "is after its end"),
    (GET, "/search", {"datetime": "01/07/2024"}, "datetime", "has 2 slashes"),
    (POST, "/search", {"datetime": "01/07/2024"}, "datetime", "has 2 slashes"),
    (GET, "/search", {"datetime": "2024-07-01"}, "datetime",
     "2024-07-01 is a date without a time: write 2024-07-01T00:00:00Z"),
    (GET, "/search", {"datetime": "yesterday"}, "datetime",
     "yesterday is not an RFC 3339 date-time"),
    (GET, "/search", {"datetime": "2024-13-01T00:00:00Z"}, "datetime", "month must be in 1..12"),
    (GET, "/search", {"datetime": "../.."}, "datetime", "both ends of the interval are open"),
    (GET, "/search", {"datetime": ""}, "datetime", "is empty"),
    (POST, "/search", {"datetime": 5}, "datetime", "must be a string (got 5)"),
    (GET, "/search", {"bbox": "0,0,10,200"}, "bbox",
     "its north latitude 200 is outside -90 to 90 (got '0,0,10,200')"),
    (GET, "/collections/landcover/items", {"bbox": "0,0,10,200"}, "bbox",
     "its north latitude 200 is outside -90 to 90"),
    (POST, "/search", {"bbox": [0, 0, 10, 200]}, "bbox",
     "its north latitude 200 is outside -90 to 90 (got [0,0,10,200])"),
    (GET, "/search", {"bbox": "10,50,0,40"}, "bbox", "its south 50 is above its north 40"),
    (GET, "/search", {"bbox": "1,2,3"}, "bbox", "has 3 numbers, not 4"),
    (POST, "/search", {"bbox": [10, 50, 0]}, "bbox", "has 3 numbers, not 4"),
    (GET, "/search", {"bbox": "a,b,c,d"}, "bbox", "'a' is not a number"),
    (POST, "/search", {"bbox": "0,0,1,1"}, "bbox", "must be an array"),
    (GET, "/search", {"bbox": "0,0,1,1", "intersects": '{"type":"Point","coordinates":[0,0]}'},
     "intersects", "cannot be used with bbox"),
    (GET, "/search", {"limit": "0"}, "limit", "must be more than 0 (got '0')"),
    (GET, "/search", {"limit": "ten"}, "limit", "is not a whole number (got 'ten')"),
    (POST, "/search", {"limit": "ten"}, "limit", "is not a whole number"),
    (POST, "/search", {"collections": "landcover"}, "collections", "must be an array"),
    (POST, "/search", {"collections": [1]}, "collections", "[0] must be a string"),
    (GET, "/search", {"sortby": "-nope"}, "sortby", "Cannot sort by -nope"),
    (POST, "/search", {"sortby": "datetime"}, "sortby", "must be an array"),
    (POST, "/search", {"sortby": [{"field": "datetime", "direction": "up"}]}, "sortby",
     "[0].direction must be 'asc' or 'desc'"),
    (GET, "/search", {"fields": ",id"}, "fields", "has an empty name"),
    (POST, "/search", {"fields": {"include": "id"}}, "fields", "include must be an array"),
    (GET, "/search", {"filter": "eo:cloud_cover >"}, "filter",
     "cannot be read as cql2-text at character 17"),
    (GET, "/search", {"filter": "1"}, "filter", "is not a cql2-text condition"),
    (GET, "/search", {"filter": '{"op": ', "filter-lang": "cql2-json"}, "filter",
     "cannot be read as cql2-json: not valid JSON at character 7"),
    (POST, "/search", {"filter": "x"}, "filter", "must be a JSON object"),
    (GET, "/search", {"filter-lang": "sql"}, "filter-lang", "must be 'cql2-json' or 'cql2-text'"),
    (GET, "/search", {"intersects": "{not json"}, "intersects", "is not valid JSON"),
    (GET, "/search", {"intersects": '{"type": "Point"}'}, "intersects",
     "is not a GeoJSON geometry"),
    (POST, "/search", {"intersects": {"type": "Point"}}, "intersects",
     "is not a GeoJSON geometry"),
    (GET, "/search", {"query": "[1]"}, "query", "must be a JSON object"),
    (GET, "/search", {"token": "next:nope"}, "token", "is not a token this API gave"),
    (GET, "/search", {"categories": "jungle"}, "categories", "'jungle' is not a CLC code"),
    (GET, "/search/text", {}, "q", "is required"),
]


def _request(url: str, method: str, arguments: dict[str, Any]) -> httpx.Response:
    if method == GET:
        return httpx.get(url, params=arguments)
    return httpx.post(url, json=arguments)


@pytest.mark.parametrize(("method", "path", "arguments", "parameter", "words"), CASES)
def test_a_refused_parameter_is_named_with_what_is_wrong_and_what_is_expected(
        api_url: str, method: str, path: str, arguments: dict[str, Any], parameter: str,
        words: str) -> None:
    response = _request(api_url + path, method, arguments)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"code", "description"}
    description = body["description"]
    assert description.startswith(f"{parameter}: "), description
    assert words in description
    assert not LEAKS.search(description), description


@pytest.mark.parametrize(("path", "parameter", "form"), [
    ("/search?datetime=01/07/2024", "datetime", "e.g. 2024-07-01T00:00:00Z/2024-08-01T00:00:00Z"),
    ("/search?bbox=0,0,10,200", "bbox", "west,south,east,north in degrees"),
    ("/search?limit=0", "limit", "a whole number from 1 to 10000"),
])
def test_the_expected_form_is_given(api_url: str, path: str, parameter: str, form: str) -> None:
    description = httpx.get(api_url + path).json()["description"]
    assert description.startswith(f"{parameter}: ")
    assert form in description.split("; expected ", 1)[1]


def test_a_malformed_body_names_the_position_not_a_decoder(api_url: str) -> None:
    response = httpx.post(api_url + "/search", content=b'{"limit": 1,,}',
                          headers={"content-type": "application/json"})
    assert response.status_code == 400
    description = response.json()["description"]
    assert description.startswith("body: is not valid JSON at character 12")
    assert "expected a JSON object of search parameters" in description
    assert not LEAKS.search(description)


def test_a_missing_body_is_said_to_be_required(api_url: str) -> None:
    response = httpx.post(api_url + "/search", content=b"",
                          headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["description"].startswith("body: is required")


def test_two_bad_parameters_are_both_named(api_url: str) -> None:
    response = httpx.post(api_url + "/search", json={"limit": 0, "collections": "landcover"})
    description = response.json()["description"]
    assert "limit: must be more than 0" in description
    assert "collections: must be an array" in description
