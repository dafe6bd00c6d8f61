"""Pagination over more items than one page, by next links (GET and POST) and pystac-client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pystac_client import Client

from infra.postgres import libpq_env
from tests.servers import uvicorn_server
from tests.stac_api.conftest import FACTORY, HEALTH_PATH
from tests.stac_api.sample_catalog import MONTPELLIER, landcover_item, load_catalog

COUNT = 25  # two full default pages (10) and a partial third
PRODUCTS = [
    replace(MONTPELLIER, product_id=MONTPELLIER.product_id.replace("20240615T103629",
                                                                    f"202406{d + 1:02d}T103629"),
            sensed=MONTPELLIER.sensed.replace(day=1) + timedelta(days=d))
    for d in range(COUNT)
]
ALL = {p.item_id for p in PRODUCTS}


@pytest.fixture(scope="module")
def many_url(module_pgstac_dsn: str) -> Iterator[str]:
    load_catalog(module_pgstac_dsn, [landcover_item(p) for p in PRODUCTS])
    with uvicorn_server(FACTORY, libpq_env(module_pgstac_dsn), health_path=HEALTH_PATH) as url:
        yield url


def next_link(page: dict[str, Any]) -> dict[str, Any] | None:
    return next((ln for ln in page["links"] if ln["rel"] == "next"), None)


def test_get_pages_follow_next_links_to_every_item(many_url: str) -> None:
    pages = [httpx.get(many_url + "/search", params={"collections": "landcover",
                                                      "sortby": "-datetime"}).json()]
    while (link := next_link(pages[-1])) is not None:
        pages.append(httpx.get(link["href"]).json())
    sizes = [len(p["features"]) for p in pages]
    assert sizes == [10, 10, 5]
    seen = [f["id"] for p in pages for f in p["features"]]
    assert len(seen) == len(set(seen)) and set(seen) == ALL
    dates = [f["properties"]["datetime"] for p in pages for f in p["features"]]
    assert dates == sorted(dates, reverse=True)  # the sort holds across pages


def test_post_pages_carry_the_body_including_categories(many_url: str) -> None:
    body = {"collections": ["landcover"], "limit": 7, "categories": ["Vineyards"]}
    pages = [httpx.post(many_url + "/search", json=body).json()]
    while (link := next_link(pages[-1])) is not None:
        assert link["method"] == "POST" and link["body"]["categories"] == ["Vineyards"]
        pages.append(httpx.post(link["href"], json=link["body"]).json())
    assert [len(p["features"]) for p in pages] == [7, 7, 7, 4]
    assert {f["id"] for p in pages for f in p["features"]} == ALL


def test_pystac_client_collects_every_page(many_url: str) -> None:
    search = Client.open(many_url).search(collections=["landcover"], limit=10)
    assert {item.id for item in search.items()} == ALL
    assert len(list(search.pages())) == 3
