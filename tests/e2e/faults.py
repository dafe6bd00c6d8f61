"""Shared pieces of the fault-injection tests (tests/e2e/test_faults_*.py): real worker
processes, the CLI's own status, and the invariants every fault must leave true."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis
from rq.job import Job

from inference.settings import InferenceSettings
from infra.postgres import libpq_env
from ingest.catalog.pgstac_db import pgstac_session
from ingest.settings import IngestSettings
from tests.models import built
from tests.workers import kill_worker, stop_workers


@dataclass
class Pipeline:
    """Workers over one Redis database and one pgstac database, in ``home``."""

    home: Path
    dsn: str
    redis_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    retry_intervals_s: list[int] = field(default_factory=lambda: [1, 1, 1])
    asset_root: Path | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**libpq_env(self.dsn), "EARTHSIG_REDIS_URL": self.redis_url,
                "EARTHSIG_HOME": str(self.home),
                "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(built(self.home / "m")),
                "EARTHSIG_RETRY_INTERVALS_S": json.dumps(self.retry_intervals_s),
                "EARTHSIG_RETRIES": str(len(self.retry_intervals_s)),
                **({"EARTHSIG_ASSET_ROOT": str(self.asset_root)} if self.asset_root else {}),
                **self.extra_env}

    @property
    def redis(self) -> Redis:
        return Redis.from_url(self.redis_url)

    @property
    def ingest(self) -> IngestSettings:
        return IngestSettings(_env_file=None, home=self.home, redis_url=self.redis_url,
                              retry_intervals_s=self.retry_intervals_s,
                              retries=len(self.retry_intervals_s), asset_root=self.asset_root)

    @property
    def inference(self) -> InferenceSettings:
        return InferenceSettings(_env_file=None, model_repository=built(self.home / "m"))

    @property
    def assets(self) -> Path:
        return self.asset_root or self.home / "assets"

    def start_worker(self, name: str, **env: str) -> subprocess.Popen:
        log = (self.home / f"{name}.log").open("ab")
        self.workers[name] = subprocess.Popen(
            [sys.executable, "-m", "infra", "worker", "--name", name],
            env={**os.environ, **self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        return self.workers[name]

    def stop(self) -> None:
        stop_workers(self.workers.values())

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}"
                         for p in sorted(self.home.glob("*.log")))

    def items(self) -> list[str]:
        with pgstac_session(self.dsn) as db:
            return [r[0] for r in db.query("SELECT id FROM items ORDER BY id")]

    def item(self, item_id: str) -> dict:
        with pgstac_session(self.dsn) as db:
            [(content,)] = list(db.query("SELECT get_item(%s)", [item_id]))
        return content

    def status(self) -> dict:
        """What an operator sees: ``earthsig status --json``, run as the CLI."""
        done = subprocess.run([sys.executable, "-m", "infra", "status", "--json"],
                              env={**os.environ, **self.env}, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def kill_worker_of(job: Job, pipeline: Pipeline, horse_pid: int) -> str:
    """SIGKILL the worker running ``job``, then its work horse (RQ puts the horse in a
    session of its own): a machine losing the process, not a polite shutdown."""
    victim = job.worker_name
    assert victim in pipeline.workers, f"{job.id} run by unknown worker {victim}"
    kill_worker(pipeline.workers[victim], horse_pid)
    return victim


def wait_for_file(path: Path, pipeline: Pipeline, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, f"{path.name} never appeared\n{pipeline.logs()}"
        time.sleep(0.1)
    return path.read_text()


def assert_published_once(pipeline: Pipeline, item_ids: list[str]) -> None:
    """Every item registered once, its files in exactly one run - the one it points at - and
    no staging folder, temporary file or orphan run anywhere in the store."""
    assert pipeline.items() == sorted(item_ids)
    collection = pipeline.assets / "landcover"
    assert sorted(p.name for p in collection.iterdir()) == sorted(item_ids)
    for item_id in item_ids:
        item = pipeline.item(item_id)
        runs = list((collection / item_id).iterdir())
        assert len(runs) == 1, f"{item_id}: runs {runs}"
        hrefs = {Path(a["href"]).parent for a in item["assets"].values()}
        assert hrefs == {runs[0]}, f"{item_id}: assets in {hrefs}, run {runs[0]}"
        for asset in item["assets"].values():
            assert Path(asset["href"]).stat().st_size == asset["file:size"]
    hidden = [p for p in pipeline.assets.rglob(".*")]
    assert hidden == [], f"left-overs in the store: {hidden}"


def counts(queued: int = 0, running: int = 0, waiting: int = 0, failed: int = 0,
           done: int = 0) -> dict[str, int]:
    return {"queued": queued, "running": running, "waiting": waiting, "failed": failed,
            "done": done}


def all_done(n: int) -> dict[str, dict[str, int]]:
    """Status of ``n`` products that went through every stage, nothing else in flight."""
    return {stage: counts(done=n) for stage in ("fetch", "infer", "publish")}
