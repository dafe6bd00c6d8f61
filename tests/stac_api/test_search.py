"""Every filter of the original API, and category search in each form users ask it, over HTTP
against ``uvicorn --factory stac_api.app:create_app`` on the sample catalog (real pgstac).

The original API's filters map to STAC as: WKT area -> CQL2 ``S_INTERSECTS`` (WKT literals are
cql2-text) or ``intersects``; start and end date -> ``datetime`` interval; product ids ->
``earthsig:source_product IN (...)``; categories -> ``categories=`` or CQL2 on ``clc:``;
n_results -> ``limit`` (one page) or pystac-client's ``max_items``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import shapely
from pystac_client import Client

from tests.stac_api.sample_catalog import MONTPELLIER, PROVENCE

BOTH = {MONTPELLIER.item_id, PROVENCE.item_id}
NONE: set[str] = set()
M, P = {MONTPELLIER.item_id}, {PROVENCE.item_id}
MONTPELLIER_WKT = "POLYGON((3.80 43.55, 3.95 43.55, 3.95 43.65, 3.80 43.65, 3.80 43.55))"


def ids(body: dict[str, Any]) -> set[str]:
    return {f["id"] for f in body["features"]}


def get(url: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(url, json=body)
    assert response.status_code == 200, response.text
    return response.json()


# -- the original API's filters ---------------------------------------------------------------


def test_wkt_area_as_cql2_text(api_url: str) -> None:
    found = get(api_url + "/search", filter=f"S_INTERSECTS(geometry, {MONTPELLIER_WKT})")
    assert ids(found) == M


def test_wkt_area_through_pystac_client(api_url: str) -> None:
    area = shapely.from_wkt(MONTPELLIER_WKT)
    search = Client.open(api_url).search(collections=["landcover"], intersects=area)
    assert {i.id for i in search.items()} == M


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [("2024-06-01", "2024-06-30", M), ("2024-07-01", "2024-07-31", P),
     ("2024-06-01", "2024-07-31", BOTH), ("2023-01-01", "2023-12-31", NONE)],
)
def test_start_and_end_date(api_url: str, start: str, end: str, expected: set[str]) -> None:
    found = get(api_url + "/search", datetime=f"{start}T00:00:00Z/{end}T23:59:59Z")
    assert ids(found) == expected
    search = Client.open(api_url).search(datetime=f"{start}/{end}")
    assert {i.id for i in search.items()} == expected


def test_product_ids(api_url: str) -> None:
    product = MONTPELLIER.product_id
    text = get(api_url + "/search", filter=f"\"earthsig:source_product\" IN ('{product}', 'x')")
    assert ids(text) == M
    body = {"filter": {"op": "in", "args": [{"property": "earthsig:source_product"},
                                            [product, PROVENCE.product_id]]}}
    assert ids(post(api_url + "/search", body)) == BOTH


def test_n_results(api_url: str) -> None:
    one = get(api_url + "/search", limit=1)
    assert len(one["features"]) == 1
    search = Client.open(api_url).search(collections=["landcover"], max_items=1)
    assert len(list(search.items())) == 1


# -- categories -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        ("221", BOTH),  # a CLC code
        ("523", M),
        ("Olive groves", P),  # a class name
        ("vineyards", BOTH),  # any case, singular or plural
        ("Forests", BOTH),  # level-2 group: any forest
        ("31", BOTH),
        ("Wetlands", NONE),  # level-1 group
        ("Water bodies", M),
        ("Industrial, commercial and transport units,523", M),  # a name with commas, and a code
        ("223,523", BOTH),  # any of them
    ],
)
def test_categories_parameter(api_url: str, categories: str, expected: set[str]) -> None:
    assert ids(get(api_url + "/search", categories=categories)) == expected


@pytest.mark.parametrize(
    ("categories", "min_fraction", "expected"),
    [("221", 0.2, M), ("Vineyards", 0.1, BOTH), ("forest", 0.2, P), ("forest", 0.5, NONE)],
)
def test_categories_with_minimum_fraction(
    api_url: str, categories: str, min_fraction: float, expected: set[str]
) -> None:
    found = get(api_url + "/search", categories=categories, min_fraction=min_fraction)
    assert ids(found) == expected
    body = {"categories": [categories], "min_fraction": min_fraction}
    assert ids(post(api_url + "/search", body)) == expected


def test_categories_combine_with_area_dates_and_filter(api_url: str) -> None:
    vineyards = {"categories": "221", "min_fraction": 0.2}
    assert ids(get(api_url + "/search", **vineyards, bbox="3.80,43.55,3.95,43.65")) == M
    assert ids(get(api_url + "/search", **vineyards, bbox="5.40,43.48,5.50,43.56")) == NONE
    assert ids(get(api_url + "/search", **vineyards, datetime="2024-07-01T00:00:00Z/..")) == NONE
    found = get(api_url + "/search", categories="Vineyards", filter="eo:cloud_cover > 10")
    assert ids(found) == P


def test_post_categories_accept_integers_and_items_route_takes_them(api_url: str) -> None:
    assert ids(post(api_url + "/search", {"categories": [523, 223]})) == BOTH
    items = get(api_url + "/collections/landcover/items", categories="Olive groves")
    assert ids(items) == P


@pytest.mark.parametrize(
    ("cql2_text", "expected"),
    [
        ("A_CONTAINS(clc:classes, ('221'))", BOTH),
        ("A_CONTAINS(clc:classes, (221))", BOTH),  # integers work too (pgstac compares text)
        ("A_OVERLAPS(clc:classes, ('311', '312', '313'))", BOTH),
        ("A_CONTAINEDBY(clc:classes, ('112', '221', '311', '523', '999'))", M),
        ("clc:fraction_221 >= 0.2", M),
        ("clc:fraction_312 > 0.2 OR clc:fraction_311 > 0.2 OR clc:fraction_313 > 0.2", P),
        ("clc:valid_fraction < 0.9", P),
    ],
)
def test_category_search_in_cql2(api_url: str, cql2_text: str, expected: set[str]) -> None:
    assert ids(get(api_url + "/search", filter=cql2_text)) == expected


def test_sort_by_fraction_is_numeric(api_url: str) -> None:
    found = get(api_url + "/search", categories="221", sortby="-clc:fraction_221")
    assert [f["id"] for f in found["features"]] == [MONTPELLIER.item_id, PROVENCE.item_id]
    found = post(api_url + "/search", {"sortby": [{"field": "properties.eo:cloud_cover",
                                                   "direction": "desc"}]})
    assert [f["id"] for f in found["features"]] == [PROVENCE.item_id, MONTPELLIER.item_id]


def test_pystac_client_end_to_end(api_url: str) -> None:
    """The way the guide tells users to search: categories as a POST body field, CQL2 filter."""
    client = Client.open(api_url)
    vineyards = client.search(
        collections=["landcover"],
        bbox=[3.0, 43.0, 6.0, 44.5],
        datetime="2024-06-01/2024-08-31",
        filter={"op": ">=", "args": [{"property": "clc:fraction_221"}, 0.2]},
        sortby="-datetime",
    )
    items = list(vineyards.items())
    assert [i.id for i in items] == [MONTPELLIER.item_id]
    assert items[0].properties["clc:fraction_221"] == 0.25
    # cql2-text travels in a query string: POST bodies take cql2-json only (upstream's model).
    forests = client.search(filter="A_OVERLAPS(clc:classes, ('311','312','313'))",
                            filter_lang="cql2-text", method="GET", max_items=5)
    assert {i.id for i in forests.items()} == BOTH
    queryables = client.get_merged_queryables(["landcover"])
    assert queryables["properties"]["clc:fraction_221"]["type"] == "number"


# -- filters are checked against the queryables, /collections is not --------------------------


@pytest.mark.parametrize(
    ("cql2_text", "expected"),
    [
        (f"id = '{MONTPELLIER.item_id}' AND collection = 'landcover'", M),
        ("datetime > TIMESTAMP('2024-07-01T00:00:00Z')", P),
        (f"S_INTERSECTS(geometry, {MONTPELLIER_WKT}) AND properties.eo:cloud_cover < 10", M),
    ],
)
def test_filters_on_item_fields_and_prefixed_queryables_pass_the_check(
    api_url: str, cql2_text: str, expected: set[str]
) -> None:
    assert ids(get(api_url + "/search", filter=cql2_text)) == expected
    assert ids(get(api_url + "/collections/landcover/items", filter=cql2_text)) == expected


def test_collection_search_filters_are_not_item_queryables(api_url: str) -> None:
    found = get(api_url + "/collections", filter="id = 'landcover'")
    assert [c["id"] for c in found["collections"]] == ["landcover"]
