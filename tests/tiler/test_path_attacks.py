"""Attempts to make the tiler read outside its asset root, or read far too much, over HTTP.

Every ``url=`` attack (local files, ``..``, ``file://``, other hosts, GDAL's ``/vsi*`` virtual
file systems and connection strings, percent-encoded spellings) on every COG endpoint is a 4xx
with a clear message, never a 5xx, and never carries the content of what it aimed at. Items
whose assets point outside the root are refused the same way (tests/tiler/test_security.py
covers tiles and point queries of such items; here the other item endpoints). Over-sized tiles
and images are 400s naming the parameter and the limit. The figures of docs/reliability.md,
"Path restrictions", are this module's.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.tiler.landcover_data import WATER_SPOT, item_dict, load, write_cog
from tests.tiler.served import ITEM_ID, ServedTiler, serve_one_item
from tests.tiles import decode_png, tile_of, tile_url
from tiler.errors import AssetMissingError
from tiler.paths import AssetRoots

PASSWD_MARK = b"root:"  # the first line of /etc/passwd
POINT = f"point/{WATER_SPOT.lon},{WATER_SPOT.lat}"
TILE = tile_url("tiles/WebMercatorQuad/{z}/{x}/{y}.png", tile_of(WATER_SPOT))
# GET endpoints of /cog taking `url=`, and the POST ones (with a GeoJSON body).
COG_GETS = ["info", "info.geojson", TILE, "WebMercatorQuad/tilejson.json", "preview.png",
            POINT, "statistics", "bbox/1.3,43.0,1.4,43.1.png"]
COG_POSTS = ["feature.png", "statistics"]
FEATURE = {"type": "Feature", "properties": {}, "geometry": {
    "type": "Polygon", "coordinates": [[[1.3, 43.0], [1.4, 43.0], [1.4, 43.1], [1.3, 43.0]]]}}


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder beside the root: a valid COG, and a zip holding one."""
    folder = tmp_path_factory.mktemp("outside")
    write_cog(folder / "secret.tif")
    with zipfile.ZipFile(folder / "secret.zip", "w") as archive:
        archive.write(folder / "secret.tif", "secret.tif")
    return folder


@pytest.fixture(scope="module")
def tiler(module_pgstac_dsn: str, tmp_path_factory: pytest.TempPathFactory,
          outside: Path) -> Iterator[ServedTiler]:
    root = tmp_path_factory.mktemp("assets")
    # A link inside the root to a file outside it, and a zip inside the root.
    (root / "link.tif").symlink_to(outside / "secret.tif")
    with zipfile.ZipFile(root / "inside.zip", "w") as archive:
        archive.write(outside / "secret.tif", "landcover.tif")
    yield from serve_one_item(module_pgstac_dsn, root)


def attacks(t: ServedTiler, outside: Path) -> dict[str, str]:
    """``url=`` values that aim outside the root (or through a GDAL handler), by name."""
    root, secret = t.root, outside / "secret.tif"
    up = "/".join([".."] * len(root.parts))
    return {
        "/etc/passwd": "/etc/passwd",
        "/etc/passwd with NUL": "/etc/passwd\x00.tif",
        "../ out of the root": f"{root}/{up}/etc/passwd",
        "../ to a sibling COG": f"{root}/../{outside.name}/secret.tif",
        "./ and ../ mixed": f"{root}/./sub/../../{outside.name}/secret.tif",
        "symlink out of the root": f"{root}/link.tif",
        "relative path": "etc/passwd",
        "relative ../": "../../../../etc/passwd",
        "file://": "file:///etc/passwd",
        "file://localhost": "file://localhost/etc/passwd",
        "FILE:// upper case": f"FILE://{secret}",
        "file:// into the root": f"file://{t.cog}",
        "http to this server": f"{t.url}/legends/clc.png",
        "http to a metadata service": "http://169.254.169.254/latest/meta-data/",
        "https elsewhere": "https://elsewhere.test/c.tif",
        "s3 without URL roots": "s3://bucket/landcover.tif",
        "/vsicurl/": f"/vsicurl/{t.url}/legends/clc.png",
        "/vsicurl_streaming/": f"/vsicurl_streaming/{t.url}/legends/clc.png",
        "/vsicurl?url=": f"/vsicurl?url={quote(t.url + '/legends/clc.png', safe='')}",
        "/vsizip/ outside": f"/vsizip/{outside}/secret.zip/secret.tif",
        "/vsizip/ of a zip in the root": f"/vsizip/{root}/inside.zip/landcover.tif",
        "/vsizip/{} chained": f"/vsizip/{{{root}/inside.zip}}/landcover.tif",
        "/vsitar/": f"/vsitar/{outside}/secret.tar/secret.tif",
        "/vsigzip/": "/vsigzip//etc/passwd.gz",
        "/vsis3/": "/vsis3/bucket/landcover.tif",
        "/vsigs/": "/vsigs/bucket/landcover.tif",
        "/vsiaz/": "/vsiaz/container/landcover.tif",
        "/vsiadls/": "/vsiadls/fs/landcover.tif",
        "/vsiswift/": "/vsiswift/bucket/landcover.tif",
        "/vsihdfs/": "/vsihdfs/hdfs://host/landcover.tif",
        "/vsiwebhdfs/": "/vsiwebhdfs/http://host/landcover.tif",
        "/vsimem/": "/vsimem/landcover.tif",
        "/vsistdin/": "/vsistdin/",
        "/vsisubfile/": f"/vsisubfile/0_100,{secret}",
        "/vsicrypt/": f"/vsicrypt/key=x,file={secret}",
        "/vsisparse/": f"/vsisparse/{secret}",
        "/vsiaz_streaming/": "/vsiaz_streaming/container/landcover.tif",
        "vrt:// of a root file": f"vrt://{t.cog}?bands=1",
        "GTIFF_DIR: connection": f"GTIFF_DIR:1:{secret}",
        "PG: connection": "PG:dbname=postgres table=x",
        "WMS: connection": f"WMS:{t.url}/legends/clc.png",
        "inline VRT XML": f'<VRTDataset rasterXSize="1" rasterYSize="1"><VRTRasterBand '
                          f'dataType="Byte" band="1"><SimpleSource><SourceFilename>{secret}'
                          '</SourceFilename></SimpleSource></VRTRasterBand></VRTDataset>',
        "percent-encoded ../": f"{root}/%2e%2e/{outside.name}/secret.tif",
        "percent-encoded file://": "file%3A%2F%2F%2Fetc%2Fpasswd",
        "double-encoded /etc/passwd": "%252Fetc%252Fpasswd",
        "overlong UTF-8 dot": f"{root}/%c0%ae%c0%ae/{outside.name}/secret.tif",
        "backslashes": f"{root}\\..\\{outside.name}\\secret.tif",
        "very long": "/" + "a/" * 3000 + "etc/passwd",
    }


def _send(t: ServedTiler, endpoint: str, url: str, method: str) -> httpx.Response:
    # The value goes in the query string percent-encoded once, as any client sends it: the
    # percent-encoded attacks above arrive at the server still encoded once more.
    query = f"url={quote(url, safe='')}"
    if method == "GET":
        return httpx.get(f"{t.url}/cog/{endpoint}?{query}", timeout=30)
    return httpx.post(f"{t.url}/cog/{endpoint}?{query}", json=FEATURE, timeout=30)


def test_every_url_attack_on_every_cog_endpoint_is_refused(
    tiler: ServedTiler, outside: Path
) -> None:
    tried: list[str] = []
    wrong: list[str] = []
    for name, url in attacks(tiler, outside).items():
        for method, endpoints in (("GET", COG_GETS), ("POST", COG_POSTS)):
            for endpoint in endpoints:
                response = _send(tiler, endpoint, url, method)
                tried.append(name)
                refused = response.status_code in (403, 404, 422)
                if not refused or PASSWD_MARK in response.content:
                    wrong.append(f"{name} {method} {endpoint}: {response.status_code} "
                                 f"{response.text[:200]}")
                elif response.status_code == 403:
                    assert "not in a location this tiler serves" in response.json()["detail"]
    print(f"{len(tried)} url attacks ({len(set(tried))} kinds x "
          f"{len(COG_GETS) + len(COG_POSTS)} endpoints): {len(tried) - len(wrong)} refused")
    assert not wrong, "\n".join(wrong)


def test_the_same_endpoints_serve_a_file_in_the_root(tiler: ServedTiler) -> None:
    """The control: refusals above are not a tiler that refuses everything."""
    for endpoint in COG_GETS:
        response = _send(tiler, endpoint, str(tiler.cog), "GET")
        assert response.status_code == 200, (endpoint, response.text)
    for endpoint in COG_POSTS:
        assert _send(tiler, endpoint, str(tiler.cog), "POST").status_code == 200


def test_a_missing_file_in_the_root_is_a_404(tiler: ServedTiler) -> None:
    response = _send(tiler, TILE, str(tiler.root / "gone.tif"), "GET")
    assert response.status_code == 404, response.text
    assert "is not a file" in response.json()["detail"]


def test_a_missing_file_is_refused_before_gdal(tmp_path: Path) -> None:
    with pytest.raises(AssetMissingError):
        AssetRoots([str(tmp_path)]).check(str(tmp_path / "gone.tif"))


ITEM_ENDPOINTS = ["info", "assets", "statistics?assets=landcover",
                  "preview.png?assets=landcover", f"{POINT}?assets=landcover",
                  "bbox/1.3,43.0,1.4,43.1.png?assets=landcover",
                  "WebMercatorQuad/tilejson.json?assets=landcover"]


@pytest.mark.parametrize("href", ["/etc/passwd", "file:///etc/passwd",
                                  "/vsicurl/http://169.254.169.254/latest/meta-data/"])
def test_items_pointing_outside_are_refused_on_every_item_endpoint(
    tiler: ServedTiler, module_pgstac_dsn: str, href: str
) -> None:
    item = item_dict(tiler.cog, "points-away", datetime(2024, 6, 2, tzinfo=UTC))
    item["assets"]["landcover"]["href"] = href
    load(module_pgstac_dsn, [], [item])
    for endpoint in ITEM_ENDPOINTS:
        if endpoint in ("info", "assets"):
            continue  # metadata from the catalog, no file read
        response = httpx.get(f"{tiler.url}/collections/landcover/items/points-away/{endpoint}",
                             timeout=30)
        assert response.status_code == 403, (endpoint, response.text)
        assert PASSWD_MARK not in response.content


SIZE_ATTACKS = [
    (f"cog/{TILE}?tilesize=100000", "tilesize"),
    (f"cog/{TILE}?tilesize=0", "tilesize"),
    (f"cog/{TILE}?buffer=100000", "buffer"),
    (f"cog/{TILE}?padding=100000", "padding"),
    ("cog/preview/99999x99999.png", "width"),
    ("cog/preview.png?width=100000", "width"),
    ("cog/preview.png?height=100000", "height"),
    ("cog/preview.png?max_size=100000", "max_size"),
    ("cog/preview.png?width=-5", "width"),
    ("cog/statistics?max_size=1000000", "max_size"),
    ("cog/bbox/1.3,43.0,1.4,43.1/99999x99999.png", "width"),
    ("cog/bbox/1.3,43.0,1.4,43.1.png?max_size=1000000", "max_size"),
    ("cog/WebMercatorQuad/tilejson.json?maxzoom=100000", "maxzoom"),
    (f"collections/landcover/{TILE}?tilesize=100000", "tilesize"),
    (f"collections/landcover/items/{ITEM_ID}/{TILE}?assets=landcover&tilesize=100000",
     "tilesize"),
    (f"collections/landcover/items/{ITEM_ID}/preview/99999x99999.png?assets=landcover",
     "width"),
    ("colorMaps/viridis?format=png&width=1000000", "width"),
]


@pytest.mark.parametrize(("path", "word"), SIZE_ATTACKS, ids=[a[0][:60] for a in SIZE_ATTACKS])
def test_oversized_requests_are_400s_naming_the_limit(
    tiler: ServedTiler, path: str, word: str
) -> None:
    joiner = "&" if "?" in path else "?"
    url = f"{tiler.url}/{path}"
    if path.startswith("cog/"):
        url += f"{joiner}url={quote(str(tiler.cog), safe='')}"
    response = httpx.get(url, timeout=30)
    assert response.status_code == 400, response.text
    assert f"{word}=" in response.json()["detail"]
    assert "out of range" in response.json()["detail"]


def test_sizes_within_the_limits_are_served(tiler: ServedTiler) -> None:
    query = f"url={quote(str(tiler.cog), safe='')}"
    tile = httpx.get(f"{tiler.url}/cog/{TILE}?{query}&tilesize=1024", timeout=60)
    assert tile.status_code == 200, tile.text
    assert decode_png(tile.content).shape[1:] == (1024, 1024)
    preview = httpx.get(f"{tiler.url}/cog/preview/300x200.png?{query}", timeout=60)
    assert decode_png(preview.content).shape[1:] == (200, 300)
