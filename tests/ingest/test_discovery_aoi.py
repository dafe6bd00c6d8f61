"""A provider that ignores the AOI: discovery still lists only products whose footprint meets it.

``stac_fixture`` honours ``intersects``, so in ``test_discovery`` the product outside the AOI is
already dropped by the server. Here EODAG's geometry parameter is mapped onto a name the
fixture does not know: the server answers every product, as a careless provider would, and
only discovery's own footprint check keeps the product in America out.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from ingest.discovery import load_aoi
from ingest.discovery.search import search_products
from samples import make_sample_product
from tests.eodag_provider import LocalStac, eodag_environment, eodag_gateway
from tests.servers import uvicorn_server

DAY = dt.date(2024, 7, 1)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("stac")
    (root / "items" / "sentinel-2-l2a").mkdir(parents=True)
    (root / "items" / "sentinel-2-l1c").mkdir(parents=True)
    ids = {}
    for name, tile in (("europe", "T31TCJ"), ("america", "T18TWL")):
        product = make_sample_product(tile, DAY, 32, root / "files")
        item = json.loads(product.read_text())
        for asset in item["assets"].values():
            asset["href"] = f"{product.parent.name}/{asset['href'].removeprefix('./')}"
        (root / "items" / "sentinel-2-l2a" / product.name).write_text(json.dumps(item))
        ids[name] = item["id"]
    return {"root": str(root), **ids}


@pytest.fixture(scope="module")
def dag(catalog: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with uvicorn_server("tests.ingest.stac_fixture:create_app",
                        {"EARTHSIG_TEST_STAC_ROOT": catalog["root"]}) as base:
        environment = eodag_environment(tmp_path_factory.mktemp("eodag"), [
            LocalStac("honest_stac", base, geometry_key="intersects"),
            LocalStac("careless_stac", base, geometry_key="not_a_filter")])
        with eodag_gateway(environment) as gateway:
            yield gateway


def _found(dag, provider: str, aoi) -> set[str]:
    return {c.id for c in search_products(dag, start=DAY, end=DAY, aoi=aoi, max_cloud=100.0,
                                          provider=provider, page_size=10)}


def test_products_outside_the_aoi_are_dropped_even_when_the_provider_sends_them(
        dag, catalog: dict[str, str]) -> None:
    europe = load_aoi("europe")
    assert _found(dag, "honest_stac", europe) == {catalog["europe"]}
    assert _found(dag, "careless_stac", europe) == {catalog["europe"]}


def test_the_careless_provider_does_send_everything(dag, catalog: dict[str, str]) -> None:
    """Without this witness the test above could pass with a provider that filters after all:
    EODAG itself, asked for the Europe AOI, gets the product in America from it."""
    europe = load_aoi("europe")
    answered = {
        provider: {p.properties["id"] for p in dag.search(
            collection="S2_MSI_L2A", start=DAY.isoformat(),
            end=(DAY + dt.timedelta(days=1)).isoformat(), geom=europe, provider=provider,
            raise_errors=True)}
        for provider in ("honest_stac", "careless_stac")}
    assert answered == {"honest_stac": {catalog["europe"]},
                        "careless_stac": {catalog["europe"], catalog["america"]}}
