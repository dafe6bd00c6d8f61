"""Bad input the fuzzer (test_fuzz.py) found answered with a 500, now a 4xx naming the problem.

One case per fix, over HTTP against a real tiler on a real pgstac database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.tiler.landcover_data import WATER_SPOT
from tests.tiler.served import ITEM_ID, ServedTiler, serve_one_item
from tests.tiles import decode_png, tile_of, tile_url

ITEM = f"/collections/landcover/items/{ITEM_ID}"
TILE = "tiles/WebMercatorQuad/{z}/{x}/{y}.png"


@pytest.fixture(scope="module")
def tiler(module_pgstac_dsn: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[ServedTiler]:
    yield from serve_one_item(module_pgstac_dsn, tmp_path_factory.mktemp("assets"))


def _cog(tiler: ServedTiler, path: str) -> str:
    joiner = "&" if "?" in path else "?"
    return f"{tiler.url}/cog/{path}{joiner}url={quote(str(tiler.cog), safe='')}"


def _tile(path: str) -> str:
    return tile_url(path, tile_of(WATER_SPOT))


POINT = f"point/{WATER_SPOT.lon},{WATER_SPOT.lat}"
BOTH_QUERY, BOTH_FILTER = '{"eo:cloud_cover": {"gte": 95}}', "collection='landcover'"
# (what, URL under a served tiler, status, words of the answer)
CASES: list[tuple[str, Callable[[ServedTiler], str], int, str]] = [
    ("band the file lacks", lambda t: _cog(t, "statistics?bidx=3"), 400, "band"),
    ("expression on a band the file lacks",
     lambda t: _cog(t, _tile(TILE) + "?expression=b1/b2"), 400, "band"),
    ("nodata below uint8", lambda t: _cog(t, f"{POINT}?nodata=-1"), 400, "nodata"),
    ("nodata -inf on uint8", lambda t: _cog(t, f"{POINT}?nodata=-inf"), 400, "nodata"),
    ("algorithm_params null",
     lambda t: _cog(t, _tile(TILE) + "?algorithm=median&algorithm_params=null"), 400,
     "algorithm_params"),
    ("empty asset name", lambda t: f"{t.url}{ITEM}/info?assets=", 404, "empty asset name"),
    ("negative scan_limit",
     lambda t: f"{t.url}/collections/landcover/{POINT}/assets?scan_limit=-1", 422,
     "scan_limit"),
    ("items_limit past int4",
     lambda t: f"{t.url}/collections/landcover/{POINT}/assets?items_limit={2**40}", 422,
     "items_limit"),
    ("time_limit past an interval",
     lambda t: f"{t.url}/searches/{t.search_id}/{POINT}/assets?time_limit={10**18}", 422,
     "time_limit"),
    ("maxzoom that would loop", lambda t: _cog(t, "tiles/WebMercatorQuad?maxzoom=24294099"),
     400, "maxzoom"),
    ("healthz timeout too short to mean anything", lambda t: f"{t.url}/healthz?timeout=1e-9",
     422, "timeout"),
    ("zoom past the tile matrix set",
     lambda t: f"{t.url}/searches/{t.search_id}/tiles/WebMercatorQuad/2871/2052/30186/assets",
     400, "zoom level"),
    ("bbox of absurd coordinates", lambda t: _cog(t, "bbox/1e16,5e16,5e15,2e294.tif"), 400,
     "bbox"),
    ("a mosaic search with both query and filter",
     lambda t: f"{t.url}/collections/landcover/tiles?"
               f"query={quote(BOTH_QUERY)}&filter={quote(BOTH_FILTER)}", 400,
     "either query or filter"),
]


@pytest.mark.parametrize(("what", "url", "status", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_client_error_naming_it(
    tiler: ServedTiler, what: str, url: Callable[[ServedTiler], str], status: int, words: str
) -> None:
    response = httpx.get(url(tiler), timeout=60)
    assert response.status_code == status, response.text
    assert words in response.text


def test_a_search_pgstac_cannot_read_is_a_400(tiler: ServedTiler) -> None:
    response = httpx.post(f"{tiler.url}/searches/register",
                          json={"collections": ["landcover"], "datetime": "not-a-date"})
    assert response.status_code == 400, response.text
    assert "pgstac cannot read this search" in response.json()["detail"]


def test_an_invalid_bbox_beside_intersects_is_a_400(tiler: ServedTiler) -> None:
    # titiler-pgstac's validator reads the bbox its own bbox validator refused: a KeyError.
    point = {"type": "Point", "coordinates": [WATER_SPOT.lon, WATER_SPOT.lat]}
    response = httpx.post(f"{tiler.url}/searches/register",
                          json={"bbox": [10, 50, 0], "intersects": point})
    assert response.status_code in (400, 422), response.text
    assert response.status_code < 500


def test_a_feature_without_geometry_is_a_client_error(tiler: ServedTiler) -> None:
    response = httpx.post(_cog(tiler, "feature"),
                          json={"type": "Feature", "geometry": None, "properties": None})
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize("route", ["statistics", "feature"])
def test_a_geometry_with_a_3d_bbox_is_a_400(tiler: ServedTiler, route: str) -> None:
    lon, lat = WATER_SPOT.lon, WATER_SPOT.lat
    ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat]]
    polygon = {"type": "Polygon", "bbox": [lon, lat, 0, lon + 0.01, lat + 0.01, 0],
               "coordinates": [ring]}
    response = httpx.post(_cog(tiler, route) + "&bidx=1",
                          json={"type": "Feature", "geometry": polygon, "properties": {}},
                          timeout=60)
    assert response.status_code == 400, response.text
    assert "bbox must be 2D" in response.json()["detail"]


def test_a_geometry_with_an_inverted_bbox_is_a_400(tiler: ServedTiler) -> None:
    # Statistics take a geometry's own bbox for its bounds: west > east is no window.
    lon, lat = WATER_SPOT.lon, WATER_SPOT.lat
    points = {"type": "MultiPoint", "bbox": [lon + 0.01, lat, lon, lat + 0.01],
              "coordinates": [[lon, lat], [lon + 0.01, lat + 0.01]]}
    response = httpx.post(_cog(tiler, "statistics") + "&bidx=1",
                          json={"type": "Feature", "geometry": points, "properties": {}},
                          timeout=60)
    assert response.status_code == 400, response.text
    assert "empty or inverted" in response.json()["detail"]


def test_a_world_bbox_is_read_at_a_bounded_size(tiler: ServedTiler) -> None:
    """Without width, height or max_size upstream reads the bbox at the file's resolution:
    the world over a 10 m COG. The default max_size keeps it a small image."""
    response = httpx.get(_cog(tiler, "bbox/-180,-85,180,85.png"), timeout=60)
    assert response.status_code == 200, response.text
    bands = decode_png(response.content)
    assert max(bands.shape[1:]) <= 1024




def test_a_feature_of_absurd_coordinates_is_a_400(tiler: ServedTiler) -> None:
    line = {"type": "MultiLineString", "coordinates": [[[-7.169311455033599e+214, 0], [1, 1]]]}
    response = httpx.post(_cog(tiler, "feature") + "&format=npy&reproject=bilinear"
                          "&algorithm=terrarium&bidx=1&expression=b1/b2",
                          json={"type": "Feature", "geometry": line, "properties": {}},
                          timeout=60)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(("coordinates out of range", "the bbox is too"))
