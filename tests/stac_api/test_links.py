"""Links to the tiler and web map, and CORS: plain functions, then the running app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from catalog_schemas.collections import landcover_collection
from infra.endpoints import endpoints
from stac_api.app import create_app
from stac_api.links import WEB_MAP_LINKS_SCHEMA, TilerLinks, tile_query
from stac_api.settings import PostgresSettings, Settings, TilerLinkSettings

TILER = "https://tiles.example.org"


def test_collection_links_are_the_urls_endpoints_json_gives() -> None:
    """The same XYZ and TileJSON URLs as ``infra/endpoints.py`` writes for the demo."""
    collection = landcover_collection().to_dict()
    links = TilerLinks(TILER, f"{TILER}/map").collection_links(collection)
    # One XYZ/TileJSON pair per render of the collection; the land cover's is the demo's.
    by_rel = {ln["rel"]: ln["href"] for ln in links
              if ln.get("title") in ("CORINE land cover", "Web map of the land cover")}
    expected = endpoints("http://api", TILER)
    assert by_rel["xyz"] == expected["xyz"]
    assert by_rel["tilejson"] == expected["tilejson"]
    assert by_rel["related"] == f"{TILER}/map"


def test_render_parameters_become_tiler_query() -> None:
    render = {"assets": ["b04", "b03"], "rescale": [[0, 3000], [0, 2500]],
              "colormap_name": "viridis", "title": "ignored", "minmax_zoom": [8, 14]}
    assert tile_query(render) == (
        "assets=b04&assets=b03&rescale=0,3000&rescale=0,2500&colormap_name=viridis"
    )


def test_collection_without_renders_gets_no_tile_links() -> None:
    collection = {"id": "plain", "links": [], "stac_extensions": []}
    TilerLinks(TILER, f"{TILER}/map").add_to_collection(collection)
    assert collection == {"id": "plain", "links": [], "stac_extensions": []}


@pytest.fixture
def linked(catalog_dsn: str, pg_env: dict[str, str]) -> Iterator[TestClient]:
    pg = PostgresSettings(_env_file=None, **{k.lower(): v for k, v in pg_env.items()})
    settings = Settings(_env_file=None, cors_origins=["https://map.example.org"])
    app = create_app(settings, pg, links=TilerLinkSettings(_env_file=None, tiler_url=TILER + "/"))
    with TestClient(app) as client:
        yield client


def test_landing_page_links_web_map_and_tiler(linked: TestClient) -> None:
    links = linked.get("/").json()["links"]
    related = {ln["href"]: ln["type"] for ln in links if ln["rel"] == "related"}
    assert related == {f"{TILER}/map": "text/html", f"{TILER}/": "application/json"}


@pytest.mark.parametrize("path", ["/collections/landcover", "/collections"])
def test_collections_carry_tile_links(linked: TestClient, path: str) -> None:
    body = linked.get(path).json()
    collection = body if "id" in body else body["collections"][0]
    rels = {ln["rel"]: ln["href"] for ln in collection["links"]}
    assert rels["xyz"].startswith(f"{TILER}/collections/landcover/tiles/WebMercatorQuad/{{z}}")
    assert rels["tilejson"].endswith("&tile_format=png")
    assert WEB_MAP_LINKS_SCHEMA in collection["stac_extensions"]


def test_no_tiler_configured_means_no_tile_links(catalog_dsn: str, pg_env: dict[str, str]) -> None:
    pg = PostgresSettings(_env_file=None, **{k.lower(): v for k, v in pg_env.items()})
    app = create_app(Settings(_env_file=None), pg, links=TilerLinkSettings(_env_file=None))
    with TestClient(app) as client:
        links = client.get("/collections/landcover").json()["links"]
    assert not [ln for ln in links if ln["rel"] in ("xyz", "tilejson")]


def test_cors_allows_only_configured_origins(linked: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = linked.options("/search", headers={"Origin": "https://map.example.org", **preflight})
    assert allowed.headers["access-control-allow-origin"] == "https://map.example.org"
    other = linked.get("/", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers
