"""The pipeline on RQ with real worker processes: stages, failures, retries, crashes, status."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq.job import Job, JobStatus

from inference.settings import InferenceSettings
from infra.postgres import libpq_env
from ingest.catalog.pgstac_db import pgstac_session
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.monitor import pipeline_status
from ingest.orchestration.queue import JobFailedError, enqueue_product, wait_for
from ingest.orchestration.stages import Stage
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built
from tests.workers import kill_worker, stop_workers

N_PRODUCTS = 10


@dataclass
class Pipeline:
    home: Path
    env: dict[str, str]
    redis: Redis
    ingest: IngestSettings
    inference: InferenceSettings
    workers: dict[str, subprocess.Popen]
    dsn: str

    def items(self) -> list[str]:
        with pgstac_session(self.dsn) as db:
            return [r[0] for r in db.query("SELECT id FROM items ORDER BY id")]

    def start_worker(self, name: str) -> None:
        log = (self.home / f"{name}.log").open("ab")
        self.workers[name] = subprocess.Popen(
            [sys.executable, "-m", "infra", "worker", "--name", name],
            env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, module_pgstac_dsn: str,
             module_redis_url: str) -> Iterator[Pipeline]:
    home = tmp_path_factory.mktemp("home")
    env = {**libpq_env(module_pgstac_dsn), "EARTHSIG_REDIS_URL": module_redis_url,
           "EARTHSIG_HOME": str(home),
           "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(built(home / "m")),
           "EARTHSIG_RETRY_INTERVALS_S": "[1, 1, 1]"}
    ingest = IngestSettings(_env_file=None, home=home, redis_url=module_redis_url,
                            retry_intervals_s=[1, 1, 1])
    inference = InferenceSettings(_env_file=None, model_repository=home / "m")
    p = Pipeline(home, env, Redis.from_url(module_redis_url), ingest, inference, {},
                 module_pgstac_dsn)
    for i in range(3):
        p.start_worker(f"w{i}")
    try:
        yield p
    finally:
        stop_workers(p.workers.values())


def _corrupt(product: Path) -> Path:
    (product.parent / "B04.tif").write_bytes(b"II*\x00 this is not a GeoTIFF any more")
    return product


def test_products_flow_through_all_stages(pipeline: Pipeline) -> None:
    samples = pipeline.home / "samples"
    hrefs = [str(make_sample_product("T31TCJ", date(2024, 6, 1) + timedelta(days=5 * i), 256,
                                     samples, seed=i)) for i in range(N_PRODUCTS)]
    corrupt = str(_corrupt(make_sample_product("T31TDJ", date(2024, 6, 1), 256, samples,
                                               seed=99)))
    queued = [enqueue_product(h, None, connection=pipeline.redis, ingest=pipeline.ingest,
                              inference=pipeline.inference) for h in [*hrefs, corrupt]]
    assert {q.state for q in queued} == {"queued"}
    results = [wait_for(q.job_id, connection=pipeline.redis, timeout_s=300)
               for q in queued[:-1]]
    with pytest.raises(JobFailedError, match="invalid input.*B04"):
        wait_for(queued[-1].job_id, connection=pipeline.redis, timeout_s=120)

    assert pipeline.items() == sorted(r["item_id"] for r in results)
    for q in queued[:-1]:
        for stage in Stage:
            job = Job.fetch(ChainIds.of(q.product_id, q.model).job_id(stage),
                            connection=pipeline.redis)
            assert job.get_status() == JobStatus.FINISHED
            assert job.worker_name in pipeline.workers
            assert job.meta["attempts"] == 1
    failed = Job.fetch(ChainIds.of(queued[-1].product_id, queued[-1].model).job_id(Stage.FETCH),
                       connection=pipeline.redis)
    assert failed.meta["attempts"] == 1  # invalid input: never retried
    assert "invalid input" in failed.meta["cause"]

    status = pipeline_status(pipeline.redis, pipeline.ingest)
    assert status.stages["publish"].done == N_PRODUCTS
    assert status.stages["fetch"].failed == 1 and status.stages["fetch"].done == N_PRODUCTS
    assert status.stages["infer"].waiting == 1 and status.stages["publish"].waiting == 1
    assert status.published_last_hour == N_PRODUCTS
    [failure] = status.failures
    assert failure.product_id == queued[-1].product_id and failure.stage == "fetch"

    again = enqueue_product(hrefs[0], None, connection=pipeline.redis, ingest=pipeline.ingest,
                            inference=pipeline.inference)
    assert again.state == "done"  # a done product is a no-op
    assert pipeline_status(pipeline.redis, pipeline.ingest).stages["fetch"].queued == 0


def test_killed_worker_mid_product_is_recovered(pipeline: Pipeline) -> None:
    href = str(make_sample_product("T31TCJ", date(2024, 9, 1), 2048, pipeline.home / "big",
                                   seed=5))
    before = set(pipeline.items())
    q = enqueue_product(href, None, connection=pipeline.redis, ingest=pipeline.ingest,
                        inference=pipeline.inference)
    infer = ChainIds.of(q.product_id, q.model).job_id(Stage.INFER)
    deadline = time.monotonic() + 120
    while True:  # wait until a horse is working on the infer stage
        job = Job.fetch(infer, connection=pipeline.redis)
        if job.get_status() == JobStatus.STARTED and job.meta.get("horse_pid"):
            break
        assert time.monotonic() < deadline, "infer never started"
        time.sleep(0.05)
    victim = job.worker_name
    kill_worker(pipeline.workers[victim], int(job.meta["horse_pid"]))

    result = wait_for(q.job_id, connection=pipeline.redis, timeout_s=240)
    job = Job.fetch(infer, connection=pipeline.redis)
    assert job.meta["attempts"] == 2 and job.worker_name != victim
    assert set(pipeline.items()) == before | {result["item_id"]}
    item_dir = pipeline.home / "assets" / "landcover" / result["item_id"]
    assert len(list(item_dir.iterdir())) == 1  # one run, no staging left by the dead horse
    pipeline.start_worker(victim)
