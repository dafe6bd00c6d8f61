"""The API as users meet it: ``uvicorn --factory stac_api.app:create_app`` in a child process,
on a real pgstac database holding the sample catalog, asked over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pystac_client import Client

from tests.stac_api.sample_catalog import (
    AIX_BBOX,
    MONTPELLIER,
    MONTPELLIER_BBOX,
    PROVENCE,
    Product,
)

BOTH = {MONTPELLIER.item_id, PROVENCE.item_id}


def ids(feature_collection: dict[str, Any]) -> set[str]:
    return {f["id"] for f in feature_collection["features"]}


def link(document: dict[str, Any], rel: str) -> dict[str, Any] | None:
    return next((ln for ln in document["links"] if ln["rel"] == rel), None)


def get(url: str, **params: Any) -> dict[str, Any]:
    # httpx replaces a URL's own query by `params` even when empty: pass None for next links.
    response = httpx.get(url, params=params or None)
    assert response.status_code == 200, response.text
    return response.json()


def test_landing_page_links_the_core_endpoints(api_url: str) -> None:
    landing = get(api_url + "/")
    assert landing["type"] == "Catalog"
    assert landing["title"] == "EarthSignature STAC API"
    rels = {ln["rel"] for ln in landing["links"]}
    assert {"self", "root", "data", "conformance", "search"} <= rels


CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "https://api.stacspec.org/v1.1.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0-rc.1/item-search#free-text",
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search",
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search#free-text",
]


def test_conformance_declares_the_extensions_we_compose(api_url: str) -> None:
    declared = set(get(api_url + "/conformance")["conformsTo"])
    assert set(CONFORMANCE) <= declared
    assert set(get(api_url + "/")["conformsTo"]) == declared
    assert not [c for c in declared if "transaction" in c]


def test_landcover_collection_is_served(api_url: str) -> None:
    collections = get(api_url + "/collections")["collections"]
    assert [c["id"] for c in collections] == ["landcover"]
    assert "landcover" in get(api_url + "/collections/landcover")["item_assets"]


@pytest.mark.parametrize(
    ("bbox", "inside"), [(MONTPELLIER_BBOX, MONTPELLIER), (AIX_BBOX, PROVENCE)]
)
def test_bbox_search_returns_the_item_inside_only(
    api_url: str, bbox: tuple[float, ...], inside: Product
) -> None:
    found = get(api_url + "/search", bbox=",".join(map(str, bbox)), collections="landcover")
    assert ids(found) == {inside.item_id}


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ("2024-06-01T00:00:00Z/2024-06-30T23:59:59Z", {MONTPELLIER.item_id}),
        ("2024-07-01T00:00:00Z/..", {PROVENCE.item_id}),
        ("../2024-06-15T10:36:29Z", {MONTPELLIER.item_id}),
        ("2024-06-15T10:36:29Z", {MONTPELLIER.item_id}),
        ("2024-01-01T00:00:00Z/2024-12-31T23:59:59Z", BOTH),
        ("2023-01-01T00:00:00Z/2023-12-31T23:59:59Z", set()),
    ],
)
def test_datetime_filters(api_url: str, interval: str, expected: set[str]) -> None:
    assert ids(get(api_url + "/search", datetime=interval)) == expected


def test_post_search_with_cql2_json_filter(api_url: str) -> None:
    body = {
        "collections": ["landcover"],
        "filter-lang": "cql2-json",
        "filter": {
            "op": "and",
            "args": [
                {"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]},
                {"op": "=", "args": [{"property": "grid:code"}, "MGRS-31TEJ"]},
            ],
        },
    }
    response = httpx.post(api_url + "/search", json=body)
    assert response.status_code == 200, response.text
    assert ids(response.json()) == {MONTPELLIER.item_id}


def test_get_search_with_cql2_text_filter(api_url: str) -> None:
    found = get(api_url + "/search", filter="eo:cloud_cover > 10", **{"filter-lang": "cql2-text"})
    assert ids(found) == {PROVENCE.item_id}


def test_invalid_filter_is_a_client_error(api_url: str) -> None:
    response = httpx.get(api_url + "/search", params={"filter": "eo:cloud_cover >"})
    assert response.status_code == 400


def test_sortby_orders_results(api_url: str) -> None:
    oldest_first = get(api_url + "/search", sortby="+datetime")
    assert [f["id"] for f in oldest_first["features"]] == [MONTPELLIER.item_id, PROVENCE.item_id]
    newest_first = get(api_url + "/search", sortby="-datetime")
    assert [f["id"] for f in newest_first["features"]] == [PROVENCE.item_id, MONTPELLIER.item_id]


def test_fields_trim_the_items(api_url: str) -> None:
    found = get(api_url + "/search", fields="id,-assets,-geometry")
    assert ids(found) == BOTH
    assert all("assets" not in f and "geometry" not in f for f in found["features"])


@pytest.mark.parametrize("path", ["/search", "/collections/landcover/items"])
def test_limit_one_pages_through_both_items_by_next_links(api_url: str, path: str) -> None:
    first = get(api_url + path, limit=1)
    assert len(first["features"]) == 1
    next_link = link(first, "next")
    assert next_link is not None and next_link.get("method", "GET") == "GET"
    second = get(next_link["href"])
    assert len(second["features"]) == 1
    assert ids(first) | ids(second) == BOTH
    assert link(second, "next") is None


def test_post_search_next_link_carries_the_body(api_url: str) -> None:
    first = httpx.post(api_url + "/search", json={"limit": 1, "collections": ["landcover"]}).json()
    next_link = link(first, "next")
    assert next_link is not None and next_link["method"] == "POST"
    second = httpx.post(next_link["href"], json=next_link["body"]).json()
    assert ids(first) | ids(second) == BOTH


def test_pystac_client_search_by_bbox_and_datetime(api_url: str) -> None:
    client = Client.open(api_url)
    search = client.search(
        collections=["landcover"], bbox=list(MONTPELLIER_BBOX), datetime="2024-06-01/2024-06-30"
    )
    assert [item.id for item in search.items()] == [MONTPELLIER.item_id]
    empty = client.search(bbox=list(MONTPELLIER_BBOX), datetime="2024-07-01/2024-07-31")
    assert list(empty.items()) == []


def test_pystac_client_follows_pages(api_url: str) -> None:
    search = Client.open(api_url).search(collections=["landcover"], limit=1)
    assert {item.id for item in search.items()} == BOTH


@pytest.mark.parametrize(
    "path",
    [
        "/collections/unknown",
        "/collections/unknown/items",
        f"/collections/unknown/items/{MONTPELLIER.item_id}",
        "/collections/landcover/items/unknown",
    ],
)
def test_unknown_collection_or_item_is_a_json_404(api_url: str, path: str) -> None:
    response = httpx.get(api_url + path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "NotFoundError" and "unknown" in body["description"]
