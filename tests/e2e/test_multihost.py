"""Workers as if on other hosts: each sees only Redis, the database and the asset store.

Two "hosts" are worker processes with a clean environment (no variable of this process),
their own working directory, HOME and EARTHSIG_HOME, and nothing on local disk in common with
the enqueuer or each other: the products come over HTTP (a static file server on loopback),
the assets go to an S3-protocol server (moto), the items to pgstac, the jobs through Redis.
Host A works fetch and publish, host B infer, so every product crosses hosts twice.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from redis import Redis
from rq.job import Job

from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from infra.postgres import libpq_env
from ingest.catalog.pgstac_db import pgstac_session
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.queue import enqueue_product, wait_for
from ingest.orchestration.stages import Stage
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.hosts import Host, create_public_bucket, new_host, shared_environment
from tests.models import built
from tests.servers import STATIC_ROOT_VAR, moto_s3_server, uvicorn_server
from tests.workers import stop_workers

BUCKET = "earthsig-multihost"
@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_s3_server(tmp_path_factory.mktemp("moto")) as endpoint:
        create_public_bucket(endpoint, BUCKET)
        yield endpoint


@pytest.fixture
def hosts(tmp_path: Path, pgstac_dsn: str, redis_url: str,
          s3_endpoint: str) -> Iterator[dict[str, Host]]:
    # Configured like the enqueuer: the same default model (tests/conftest.py).
    shared = shared_environment(libpq_env(pgstac_dsn), redis_url, s3_endpoint, BUCKET,
                                os.environ["EARTHSIG_INFERENCE_DEFAULT_MODEL"])
    started = {"a": new_host("host-a", tmp_path / "host-a", shared),
               "b": new_host("host-b", tmp_path / "host-b", shared)}
    started["a"].start_worker("host-a", "fetch,publish")
    started["b"].start_worker("host-b", "infer")
    try:
        yield started
    finally:
        stop_workers(w for host in started.values() for w in host.workers.values())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_workers_on_other_hosts_complete_products(tmp_path: Path, hosts: dict[str, Host],
                                                  redis_url: str, pgstac_dsn: str,
                                                  s3_endpoint: str) -> None:
    served = tmp_path / "served"
    paths = [make_sample_product("T31TCJ", date(2024, 7, 1 + i), 256, served, seed=i)
             for i in range(2)]
    with uvicorn_server("tests.servers:static_app",
                        {STATIC_ROOT_VAR: str(served)}) as base:
        hrefs = [f"{base}/{p.relative_to(served).as_posix()}" for p in paths]
        enqueuer = tmp_path / "enqueuer"
        ingest = IngestSettings(_env_file=None, home=enqueuer, redis_url=redis_url)
        inference = InferenceSettings(_env_file=None, model_repository=built(enqueuer / "models"))
        connection = Redis.from_url(redis_url)
        queued = [enqueue_product(h, None, connection=connection, ingest=ingest,
                                  inference=inference) for h in hrefs]
        results = [wait_for(q.job_id, connection=connection, timeout_s=240) for q in queued]

    for q in queued:  # each product crossed hosts: fetch on A, infer on B, publish on A
        workers = {s: Job.fetch(ChainIds.of(q.product_id, q.model).job_id(s), connection=connection)
                   .worker_name for s in Stage}
        assert workers == {Stage.FETCH: "host-a", Stage.INFER: "host-b",
                           Stage.PUBLISH: "host-a"}

    with pgstac_session(pgstac_dsn) as db:
        items = {r[0]["id"]: r[0] for r in db.query("SELECT content_hydrate(items) FROM items")}
    assert set(items) == {r["item_id"] for r in results}
    for item in items.values():
        landcover = item["assets"]["landcover"]
        assert landcover["href"].startswith(f"{s3_endpoint}/{BUCKET}/catalog/landcover/")
        body = httpx.get(landcover["href"]).content  # what any reader on any host gets
        assert len(body) == landcover["file:size"]
        assert hashlib.sha256(body).hexdigest() == landcover["file:checksum"][4:]

    # Nothing was written where another host would have to read it.
    assert not (enqueuer / "assets").exists()
    for host in hosts.values():
        assert not any((host.root / "state" / "staging").glob("*/**/*.tif"))
    # Host B's worker built the reference model itself at start, byte for byte the enqueuer's.
    model = ModelRepository.from_settings(inference).resolve(queued[0].model)
    rebuilt = hosts["b"].models / model.spec.name / model.spec.version / "model.onnx"
    assert _sha256(rebuilt) == _sha256(model.onnx_path)
    assert not hosts["a"].models.exists()  # fetch and publish need no model files
