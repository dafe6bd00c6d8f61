"""Redis restarted mid-run, for real: nothing lost, nothing processed twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

from inference.settings import InferenceSettings
from infra.postgres import libpq_env
from infra.redis_server import OwnedRedis
from infra.settings import StackSettings
from ingest.catalog.pgstac_db import pgstac_session
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.queue import enqueue_product, wait_for
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built


def _chain_states(redis: Redis, queued: list) -> str:
    lines = []
    for q in queued:
        for i in ChainIds.of(q.product_id, q.model):
            try:
                job = Job.fetch(i, connection=redis)
                q = f"rq:queue:{job.origin}"
                lines.append(f"{i}: {job.get_status().value} pos={redis.lpos(q, i)} "
                             f"inter={i.encode() in redis.lrange(q + ':intermediate', 0, -1)} "
                             f"started={redis.zrange(f'rq:wip:{job.origin}', 0, -1)}")
            except NoSuchJobError:
                lines.append(f"{i}: missing")
    for key in sorted(redis.keys("rq:scheduler*")):
        kind = redis.type(key).decode()
        value = redis.get(key) if kind == "string" else redis.hgetall(key) if kind == "hash" \
            else kind
        lines.append(f"{key.decode()}: {value} ttl={redis.ttl(key)}")
    for key in sorted(redis.keys("rq:scheduled:*")):
        lines.append(f"{key.decode()}: {redis.zrange(key, 0, -1, withscores=True)} "
                     f"now={time.time():.0f}")
    return "\n".join(lines)


def test_redis_restart_mid_run_loses_and_duplicates_nothing(
        tmp_path: Path, pgstac_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EARTHSIG_REDIS_URL", raising=False)
    owned = OwnedRedis(StackSettings(_env_file=None, home=tmp_path / "stack"))
    url = owned.start()  # append-only persistence, as the stack runs it
    home = tmp_path / "home"
    env = {**libpq_env(pgstac_dsn), "EARTHSIG_REDIS_URL": url, "EARTHSIG_HOME": str(home),
           "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(built(home / "m")),
           "EARTHSIG_RETRY_INTERVALS_S": "[1, 2, 4]"}
    logs = [(tmp_path / f"worker{n}.log").open("wb") for n in range(2)]
    workers = [subprocess.Popen([sys.executable, "-m", "infra", "worker", "--name", f"wr{n}"],
                                env={**os.environ, **env}, stdout=log,
                                stderr=subprocess.STDOUT) for n, log in enumerate(logs)]
    redis = Redis.from_url(url)
    queued = []
    try:
        ingest = IngestSettings(_env_file=None, home=home, redis_url=url)
        inference = InferenceSettings(_env_file=None, model_repository=home / "m")
        hrefs = [str(make_sample_product("T31TCJ", date(2024, 7, 1 + i), 256, home / "s",
                                         seed=i)) for i in range(6)]
        queued = [enqueue_product(h, None, connection=redis, ingest=ingest,
                                  inference=inference) for h in hrefs]
        wait_for(queued[0].job_id, connection=redis, timeout_s=120)
        owned.stop()  # mid-run: the other products are queued or in flight
        time.sleep(1)
        assert owned.start() == url
        redis = Redis.from_url(url)
        try:
            results = [wait_for(q.job_id, connection=redis, timeout_s=180) for q in queued]
        except (TimeoutError, RuntimeError) as exc:
            worker_logs = "\n".join(p.read_text()[-4000:] for p in
                                    sorted(tmp_path.glob("worker*.log")))
            raise AssertionError(f"{exc}\n{_chain_states(redis, queued)}\n{worker_logs}") \
                from exc
        with pgstac_session(pgstac_dsn) as db:
            items = sorted(r[0] for r in db.query("SELECT id FROM items"))
        assert items == sorted(r["item_id"] for r in results)  # all there, each once
        for r in results:
            runs = list((home / "assets" / "landcover" / r["item_id"]).iterdir())
            assert len(runs) == 1
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)
        for log in logs:
            log.close()
        owned.stop()
