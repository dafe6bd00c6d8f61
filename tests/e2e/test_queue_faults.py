"""A transient fault for real: the database stops while a product is in flight, then returns."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from redis import Redis
from rq.job import Job, JobStatus

from inference.settings import InferenceSettings
from infra.postgres import OwnedCluster, libpq_env
from infra.settings import StackSettings
from infra.stack import Stack
from ingest.catalog.pgstac_db import pgstac_session
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.queue import enqueue_product, wait_for
from ingest.orchestration.stages import Stage
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built


def test_database_down_during_publish_is_retried(tmp_path: Path, redis_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DATABASE_URL", "EARTHSIG_DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE",
                "PGUSER", "PGSERVICE"):
        monkeypatch.delenv(var, raising=False)
    stack_settings = StackSettings(_env_file=None, home=tmp_path / "stack")
    stack = Stack(stack_settings)
    dsn = stack.up(["postgres"]).postgres.dsn  # a cluster of its own, to stop at will
    cluster = OwnedCluster(stack_settings)
    home = tmp_path / "home"
    env = {**libpq_env(dsn), "EARTHSIG_REDIS_URL": redis_url, "EARTHSIG_HOME": str(home),
           "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(built(home / "m")),
           "EARTHSIG_RETRY_INTERVALS_S": "[2, 2, 2]"}
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "infra", "worker", "--name", "wf"],
                              env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    redis = Redis.from_url(redis_url)
    try:
        cluster.stop()
        href = str(make_sample_product("T31TCJ", date(2024, 7, 1), 256, home / "s", seed=2))
        q = enqueue_product(href, None, connection=redis,
                            ingest=IngestSettings(_env_file=None, home=home, redis_url=redis_url,
                                                  retry_intervals_s=[2, 2, 2]),
                            inference=InferenceSettings(_env_file=None,
                                                        model_repository=home / "m"))
        publish = ChainIds.of(q.product_id, q.model).job_id(Stage.PUBLISH)
        deadline = time.monotonic() + 120
        while True:  # the first registration attempt fails and a retry is scheduled
            job = Job.fetch(publish, connection=redis)
            if job.meta.get("attempts") and job.get_status() == JobStatus.SCHEDULED:
                break
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.2)
        assert job.meta["cause"].startswith("transient: TransientError: pgstac unavailable")
        cluster.start()
        result = wait_for(publish, connection=redis, timeout_s=120)
        assert Job.fetch(publish, connection=redis).meta["attempts"] >= 2
        with pgstac_session(dsn) as db:
            assert [r[0] for r in db.query("SELECT id FROM items")] == [result["item_id"]]
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
        stack.down()
        if (stack_settings.home / "pg").is_symlink():
            import shutil

            shutil.rmtree((stack_settings.home / "pg").resolve(), ignore_errors=True)
