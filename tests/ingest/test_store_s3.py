"""Publishing to S3-compatible object storage, against a real S3-protocol server (moto)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import boto3
import httpx
import pystac
import pytest
import rasterio

from inference.settings import InferenceSettings
from ingest.catalog import publisher
from ingest.catalog.pgstac_db import pgstac_session
from ingest.errors import TransientError
from ingest.outputs.staging import multihash_sha256
from ingest.pipeline import process_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built
from tests.servers import moto_s3_server

BUCKET = "earthsig-assets"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_s3_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - a boto3 client
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    # A public bucket, as an operator sets it up for asset_public_url: anyone may read.
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_product("T31TCJ", date(2024, 7, 1), 512,
                               tmp_path_factory.mktemp("samples"), seed=5, cloud_cover=10)


def _settings(home: Path, endpoint: str, public: bool) -> tuple[IngestSettings, InferenceSettings]:
    ingest = IngestSettings(_env_file=None, home=home, asset_store_url=f"s3://{BUCKET}/catalog",
                            s3_endpoint_url=endpoint,
                            asset_public_url=f"{endpoint}/{BUCKET}" if public else None)
    return ingest, InferenceSettings(_env_file=None, model_repository=built(home / "models"))


def _keys(s3) -> list[str]:  # noqa: ANN001
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def _item(dsn: str) -> dict:
    with pgstac_session(dsn) as db:
        [item] = [r[0] for r in db.query("SELECT content_hydrate(items) FROM items")]
    return item


def test_publish_to_s3_with_public_hrefs(product: Path, tmp_path: Path, s3, s3_endpoint: str,
                                         pgstac_dsn: str) -> None:
    ingest, inference = _settings(tmp_path, s3_endpoint, public=True)
    result = process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    item = _item(pgstac_dsn)
    keys = _keys(s3)
    assert len(keys) == 5 and all(k.startswith(f"catalog/landcover/{result.item_id}/")
                                  for k in keys)
    for asset in item["assets"].values():
        assert asset["href"].startswith(f"{s3_endpoint}/{BUCKET}/catalog/landcover/")
        response = httpx.get(asset["href"])  # what a user's browser or GDAL gets
        assert response.status_code == 200, response.text
        assert len(response.content) == asset["file:size"]
    # moto refuses anonymous HEAD under a bucket policy that AWS honours for HEAD too (it is
    # s3:GetObject there): GDAL is told to probe with GET. Range reads are what it then does.
    with rasterio.Env(CPL_VSIL_CURL_USE_HEAD="NO"), \
            rasterio.open(item["assets"]["landcover"]["href"]) as src:
        assert src.crs.to_epsg() == 32631 and src.colormap(1)[41][:3] == (128, 242, 230)
    assert not (tmp_path / "staging").exists() or not any((tmp_path / "staging").iterdir())

    second = process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    assert second.item_id == result.item_id
    new_keys = _keys(s3)
    assert len(new_keys) == 5 and not set(new_keys) & set(keys)  # the old run is pruned


def test_s3_hrefs_resolve_with_gdal_settings(product: Path, tmp_path: Path, s3,
                                             s3_endpoint: str, pgstac_dsn: str) -> None:
    ingest, inference = _settings(tmp_path, s3_endpoint, public=False)
    process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    href = _item(pgstac_dsn)["assets"]["landcover"]["href"]
    assert href.startswith(f"s3://{BUCKET}/catalog/landcover/")
    # Credentials come from the AWS_* environment (the fixture sets them); the endpoint and
    # addressing style are GDAL options, as in any GDAL client pointed at MinIO or Ceph.
    gdal = {"AWS_S3_ENDPOINT": s3_endpoint.removeprefix("http://"), "AWS_HTTPS": "NO",
            "AWS_VIRTUAL_HOSTING": "FALSE"}
    with rasterio.Env(**gdal), rasterio.open(href) as src:
        assert src.count == 1 and src.nodata == 0


def test_failed_registration_leaves_no_objects(product: Path, tmp_path: Path, s3,
                                               s3_endpoint: str, pgstac_dsn: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    ingest, inference = _settings(tmp_path, s3_endpoint, public=True)
    process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    before, keys = _item(pgstac_dsn), _keys(s3)

    def down(item: pystac.Item, *_: object) -> None:
        raise TransientError("pgstac unavailable (injected)")

    monkeypatch.setattr(publisher, "upsert_item", down)
    with pytest.raises(TransientError):
        process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    assert _keys(s3) == keys and _item(pgstac_dsn) == before
    local = tmp_path / "check.tif"
    local.write_bytes(httpx.get(before["assets"]["landcover"]["href"]).content)
    assert multihash_sha256(local) == before["assets"]["landcover"]["file:checksum"]
    assert os.listdir(tmp_path / "staging") == []


def test_s3_prune_removes_earlier_runs_only(tmp_path: Path, s3, s3_endpoint: str) -> None:
    from ingest.outputs.staging import staging_folder
    from ingest.outputs.store import S3Store

    store = S3Store(f"s3://{BUCKET}/catalog", staging=tmp_path / "staging",
                    endpoint_url=s3_endpoint)
    item = "landcover/S2B_31TCJ_20240825_0_L2A_clc-spectral_v1"
    runs = [f"{item}/2024010{d}T000000-abcdef" for d in (1, 2, 3)]
    for run in runs:
        with staging_folder(store.staging_parent(item)) as staging:
            (staging / "landcover.tif").write_bytes(run.encode())
            store.commit_run(staging, run)
    store.prune(item, runs[1])  # the third is a twin's, not yet registered: it stays
    assert _keys(s3) == [f"catalog/{runs[1]}/landcover.tif", f"catalog/{runs[2]}/landcover.tif"]
