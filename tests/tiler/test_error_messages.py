"""Every 4xx of the tiler carries ``{code, description}``: the parameter named, what is wrong
and the form expected, in words (issue 22, point 4). titiler's ``detail`` stays beside them
for its clients. Over HTTP against a real tiler on a real pgstac database."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.tiler.served import ITEM_ID, ServedTiler, serve_one_item

COLLECTION = "/collections/landcover"
TILE = f"{COLLECTION}/tiles/WebMercatorQuad/10/515/373.png"
ITEM = f"{COLLECTION}/items/{ITEM_ID}"
# Upstream's vocabulary: library and model names, Python types, parser internals.
LEAKS = re.compile(r"pydantic|validation error|JSON decode|Value error|Input should|"
                   r"\b(str|int|float|dict|list|tuple|NoneType|bool)\b|Identifier|UnaryNot|"
                   r"Tile\(x=|begin_date|pubugn_r|Field required")


@pytest.fixture(scope="module")
def tiler(module_pgstac_dsn: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[ServedTiler]:
    yield from serve_one_item(module_pgstac_dsn, tmp_path_factory.mktemp("assets"))


# (URL path and query, status, parameter, words of the description)
CASES = [
    (f"{COLLECTION}/tiles/WebMercatorQuad/a/0/0.png", 422, "z", "is not a whole number (got 'a')"),
    (f"{COLLECTION}/tiles/WebMercatorQuad/10/x/0.png", 422, "x", "is not a whole number"),
    (f"{ITEM}/tiles/WebMercatorQuad/5/100/0.png", 404, "x",
     "tile 5/100/0 does not exist: zoom 5 has 32 columns and rows, 0 to 31"),
    (f"{ITEM}/tiles/WebMercatorQuad/14/0/0.png", 404, "z/x/y",
     "tile 14/0/0 is outside the data's bounds"),
    (f"{COLLECTION}/tiles/WebMercatorQuad/10/515/373.pngx", 422, "format", "(got 'pngx')"),
    (f"{COLLECTION}/tiles/Nope/10/515/373.png", 422, "tileMatrixSetId",
     "must be 'WebMercatorQuad' (got 'Nope')"),
    (f"{TILE}?colormap_name=nope", 422, "colormap_name",
     "is not one of the names this tiler knows (got 'nope'); expected a name listed at "
     "/colorMaps, e.g. clc"),
    (f"{TILE}?colormap={{bad", 400, "colormap", "is not valid JSON (got '{bad')"),
    (f"{TILE}?render=nope", 422, "render",
     "names no render of this collection, so no layer is chosen (got 'nope')"),
    (f"{TILE}?resampling=bogus", 422, "resampling", "(got 'bogus')"),
    (f"{TILE}?datetime=01/07/2024", 422, "datetime",
     "has more than one /: an interval is start/end"),
    (f"{TILE}?datetime=2024-08-01T00:00:00Z/2024-07-01T00:00:00Z", 422, "datetime",
     "the interval's start 2024-08-01T00:00:00Z is after its end 2024-07-01T00:00:00Z"),
    (f"{TILE}?bbox=0,0,10,200", 422, "bbox",
     "reaches outside longitudes -180 to 180 or latitudes -90 to 90 (got '0,0,10,200')"),
    (f"{TILE}?bbox=a,b", 422, "bbox", "is not numbers separated by commas"),
    (f"{TILE}?rescale=abc", 422, "rescale", "expected min,max"),
    (f"{TILE}?filter=eo:cloud_cover >", 422, "filter",
     "cannot be read as cql2-text at character 17"),
    (f"{COLLECTION}/WebMercatorQuad/tilejson.json?minzoom=abc", 422, "minzoom",
     "is not a whole number"),
    (f"{ITEM}/point/abc,0", 422, "lon", "is not a number (got 'abc')"),
    (f"{ITEM}/point/10,45", 404, "lon,lat", "the point is outside this dataset's bounds"),
    ("/timeseries/point?lon=500&lat=1", 422, "lon", "must be at most 180"),
    ("/timeseries/point?lat=1", 422, "lon", "is required"),
]


@pytest.mark.parametrize(("path", "status", "parameter", "words"), CASES)
def test_a_refused_request_says_which_parameter_and_why(
        tiler: ServedTiler, path: str, status: int, parameter: str, words: str) -> None:
    response = httpx.get(tiler.url + path, timeout=60)
    assert response.status_code == status, response.text
    body = response.json()
    assert {"code", "description", "detail"} <= set(body)
    description = body["description"]
    assert description.startswith(f"{parameter}: "), description
    assert words in description
    assert not LEAKS.search(description), description


def test_a_bad_search_body_is_told_in_words(tiler: ServedTiler) -> None:
    response = httpx.post(tiler.url + "/searches/register", content=b'{"limit": 1,,}',
                          headers={"content-type": "application/json"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "InvalidParameter"
    assert body["description"].startswith("body: is not valid JSON at character 12")
    assert not LEAKS.search(body["description"])
    bad_type = httpx.post(tiler.url + "/searches/register", json={"collections": "landcover"})
    assert bad_type.json()["description"].startswith(
        "collections: must be an array (got 'landcover')")
    bad_date = httpx.post(tiler.url + "/searches/register", json={"datetime": "01/07/2024"})
    assert bad_date.status_code == 400, bad_date.text
    assert "datetime must be an RFC 3339 date-time" in bad_date.json()["description"]


def test_titilers_detail_stays_for_its_clients(tiler: ServedTiler) -> None:
    body = httpx.get(f"{tiler.url}{TILE}?colormap_name=nope").json()
    assert body["detail"][0]["loc"] == ["query", "colormap_name"]
    ours = httpx.get(f"{tiler.url}/cog/info?url=/etc/passwd").json()
    assert ours == {"code": "Forbidden", "description": ours["detail"],
                    "detail": "'/etc/passwd' is not in a location this tiler serves"}


def test_an_unknown_path_points_to_the_routes(tiler: ServedTiler) -> None:
    response = httpx.get(f"{tiler.url}/nowhere")
    assert response.status_code == 404
    assert response.json()["description"] == "nothing at /nowhere: the routes are listed at " \
        "/api.html"


def test_answers_that_are_not_errors_are_left_alone(tiler: ServedTiler) -> None:
    tilejson = httpx.get(f"{tiler.url}{COLLECTION}/WebMercatorQuad/tilejson.json")
    assert tilejson.status_code == 200
    assert "description" not in tilejson.json() and "tiles" in tilejson.json()
    assert int(tilejson.headers["content-length"]) == len(tilejson.content)
