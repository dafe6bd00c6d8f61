"""Assets over HTTP: a client that only has the STAC API's URL finds items whose hrefs it can
open, and reads pixels through them (issue 21, point 1).

Real servers: the tiler (``/assets/`` over the local asset store) and the STAC API (which
answers the store's paths as the tiler's URLs, derived from ``EARTHSIG_API_TILER_URL`` as the
local stack sets it), both uvicorn children on 127.0.0.1, on a pgstac holding items registered
with the store's own paths. Real clients: pystac-client, rasterio/GDAL over ``/vsicurl/``,
httpx for what GDAL asks (ranges, HEAD, conditional requests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import pystac
import pytest
import rasterio
from pystac_client import Client
from rasterio.windows import Window

from catalog_schemas.assets import LANDCOVER_ASSET
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID, landcover_collection
from tests.servers import server_log, uvicorn_server
from tests.tiler.landcover_data import (
    FOREST,
    WATER,
    WATER_SPOT,
    halves,
    item_dict,
    load,
    write_cog,
    write_layer,
)

ITEM_ID = "S2A_MSIL2A_20240601T104621_N0510_R051_T31TCJ_clc-v1"
COG = str(pystac.MediaType.COG)


@dataclass(frozen=True)
class Served:
    api: str
    tiler: str
    store: Path
    cog: Path


@pytest.fixture(scope="module")
def served(module_pgstac_dsn: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Served]:
    from infra.postgres import libpq_env

    store = tmp_path_factory.mktemp("store").resolve()
    run = store / "landcover" / ITEM_ID / "20260101T000000-abcdef"
    run.mkdir(parents=True)
    cog = write_cog(run / "landcover.tif")
    # A 2048 px COG of the pipeline's own writer (512 px blocks, overviews): the range test's.
    write_layer(run / "confidence.tif", halves(40, 90, 2048), nodata=255, categorical=False)
    (run / "polygons.parquet").write_bytes(b"PAR1" + bytes(64) + b"PAR1")
    (store.parent / "secret.txt").write_text("not an asset")
    (run / "escape.tif").symlink_to(store.parent / "secret.txt")
    item = item_dict(cog, ITEM_ID, datetime(2024, 6, 1, 10, 46, 21, tzinfo=UTC),
                     extra={"outside": Path("/srv/elsewhere/other.tif")})
    load(module_pgstac_dsn, [landcover_collection().to_dict()], [item])
    env = {**libpq_env(module_pgstac_dsn), "EARTHSIG_ASSET_ROOT": str(store),
           "EARTHSIG_HOME": str(store.parent)}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz",
                        log_level="info") as tiler, \
            uvicorn_server("stac_api.app:create_app", {**env, "EARTHSIG_API_TILER_URL": tiler},
                           health_path="/_mgmt/health") as api:
        yield Served(api=api, tiler=tiler, store=store, cog=cog)


def _found(served: Served) -> pystac.Item:
    client = Client.open(served.api)
    items = list(client.search(collections=[LANDCOVER_COLLECTION_ID],
                               bbox=[WATER_SPOT.lon - 0.01, WATER_SPOT.lat - 0.01,
                                     WATER_SPOT.lon + 0.01, WATER_SPOT.lat + 0.01]).items())
    assert [i.id for i in items] == [ITEM_ID]
    return items[0]


def test_a_client_with_only_the_api_url_reads_the_pixels(served: Served) -> None:
    """pystac-client finds the item; its landcover href is the tiler's URL of the very file;
    rasterio reads a window by that URL (GDAL's /vsicurl/: no file access needed) and the
    overview, both equal to the file's own pixels."""
    item = _found(served)
    href = item.assets[LANDCOVER_ASSET].href
    relative = served.cog.relative_to(served.store).as_posix()
    assert href == f"{served.tiler}/assets/{quote(relative)}"
    assert item.assets[LANDCOVER_ASSET].media_type == COG
    # An href outside the store is not the store's to rewrite: as registered.
    assert item.assets["outside"].href == "/srv/elsewhere/other.tif"
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), rasterio.open(href) as remote, \
            rasterio.open(served.cog) as local:
        window = Window(100, 50, 60, 40)
        got = remote.read(1, window=window)
        np.testing.assert_array_equal(got, local.read(1, window=window))
        assert set(np.unique(got)) == {WATER, FOREST}  # the window spans the class edge
        assert remote.overviews(1) == local.overviews(1) and remote.overviews(1)
        np.testing.assert_array_equal(remote.read(1, out_shape=(64, 64)),
                                      local.read(1, out_shape=(64, 64)))


def test_the_fields_extension_answers_urls_too(served: Served) -> None:
    """With ``fields`` upstream answers an encoded response: rewritten the same."""
    body = httpx.get(f"{served.api}/search", params={
        "collections": LANDCOVER_COLLECTION_ID, "fields": "assets,id"}).json()
    href = body["features"][0]["assets"][LANDCOVER_ASSET]["href"]
    assert href.startswith(f"{served.tiler}/assets/landcover/")
    single = httpx.get(f"{served.api}/collections/{LANDCOVER_COLLECTION_ID}/items/{ITEM_ID}")
    assert single.json()["assets"][LANDCOVER_ASSET]["href"] == href


def test_asset_urls_answer_ranges_head_and_conditional_requests(served: Served) -> None:
    url = _found(served).assets[LANDCOVER_ASSET].href
    data = served.cog.read_bytes()
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == COG
    assert whole.headers["accept-ranges"] == "bytes"
    part = httpx.get(url, headers={"Range": "bytes=100-227"})
    assert part.status_code == 206 and part.content == data[100:228]
    assert part.headers["content-range"] == f"bytes 100-227/{len(data)}"
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(data)
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert httpx.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    parquet = httpx.head(url.replace("landcover.tif", "polygons.parquet"))
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"


@pytest.mark.parametrize("path", [
    "..%2Fsecret.txt", "%2E%2E/secret.txt", "landcover/..%2F..%2Fsecret.txt",
    f"landcover/{ITEM_ID}/20260101T000000-abcdef/escape.tif", "%00landcover",
    "landcover/missing.tif",
])
def test_nothing_outside_the_store_is_served(served: Served, path: str) -> None:
    """Traversal (encoded or not), a symlink out of the store, a NUL: refused (403) or not
    found (404), never the file's content; a missing file is a 404."""
    response = httpx.get(f"{served.tiler}/assets/{path}")
    assert response.status_code in (403, 404), response.status_code
    assert b"not an asset" not in response.content
    if path.endswith("missing.tif"):
        assert response.status_code == 404
    if path.endswith("escape.tif"):
        assert response.status_code == 403
    assert os.path.exists(served.store.parent / "secret.txt")


def test_gdal_reads_an_overview_in_a_few_range_requests(served: Served) -> None:
    """GDAL over /vsicurl/ reads a 2048 px COG's overview with a handful of range requests
    (counted in the tiler's access log): the header, then the overview's blocks, never the
    full-resolution data."""
    url = _found(served).assets[LANDCOVER_ASSET].href.replace("landcover.tif", "confidence.tif")
    path = url.split("/assets/", 1)[1]
    log = server_log(served.tiler)

    def requests_so_far() -> int:
        return sum(1 for line in log.read_text().splitlines() if f"/assets/{path}" in line)

    before = requests_so_far()
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), rasterio.open(url) as remote:
        small = remote.read(1, out_shape=(256, 256))
        size = remote.width
    assert size == 2048 and set(np.unique(small)) == {40, 90}
    count = requests_so_far() - before
    assert 1 <= count <= 4, count


S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                  "AWS_DEFAULT_REGION": "us-east-1"}


def test_an_s3_store_gives_presigned_urls(pgstac_dsn: str, tmp_path: Path) -> None:
    """An S3 store without a public URL: with EARTHSIG_ASSET_PRESIGN_S3 the API answers each
    s3:// href as a presigned URL (signature version 4, the expiry asked), which rasterio
    reads with no credentials at all. (moto's server does not check signatures, so a
    tampered URL is not tested here.)"""
    import boto3

    from infra.postgres import libpq_env
    from tests.servers import moto_s3_server

    cog = write_cog(tmp_path / "landcover.tif")
    with moto_s3_server(tmp_path) as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, **{
            "aws_access_key_id": "test", "aws_secret_access_key": "test",
            "region_name": "us-east-1"})
        s3.create_bucket(Bucket="clc")
        s3.upload_file(str(cog), "clc", "landcover/run-1/landcover.tif")
        item = item_dict(cog, ITEM_ID, datetime(2024, 6, 1, 10, 46, 21, tzinfo=UTC))
        item["assets"][LANDCOVER_ASSET]["href"] = "s3://clc/landcover/run-1/landcover.tif"
        load(pgstac_dsn, [landcover_collection().to_dict()], [item])
        env = {**libpq_env(pgstac_dsn), **S3_CREDENTIALS, "EARTHSIG_ASSET_PRESIGN_S3": "true",
               "EARTHSIG_S3_ENDPOINT_URL": endpoint, "EARTHSIG_ASSET_PRESIGN_EXPIRY_S": "600"}
        with uvicorn_server("stac_api.app:create_app", env, health_path="/_mgmt/health") as api:
            found = httpx.get(f"{api}/collections/{LANDCOVER_COLLECTION_ID}/items/{ITEM_ID}")
        href = found.json()["assets"][LANDCOVER_ASSET]["href"]
        assert href.startswith(f"{endpoint}/clc/landcover/run-1/landcover.tif?")
        assert "X-Amz-Signature=" in href and "X-Amz-Expires=600" in href
        assert not any(k in os.environ for k in S3_CREDENTIALS)  # this process has none
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), \
                rasterio.open(href) as remote, rasterio.open(cog) as local:
            np.testing.assert_array_equal(remote.read(1), local.read(1))
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in href
