"""Operating over time with real workers: the daily discovery job, a backfill, reprocessing
with a new model version, and retiring the old one. EODAG searches a local STAC API."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.cron import CronScheduler

from inference.settings import InferenceSettings
from infra.postgres import libpq_env
from ingest.catalog.pgstac_db import pgstac_session
from ingest.orchestration.operations import (
    catalogued_sources,
    discover_days,
    reprocess,
    retire,
)
from ingest.settings import IngestSettings
from tests.ingest.test_discovery import DAY, EUROPE_CLEAR, api, catalog, eodag_env  # noqa: F401
from tests.models import built


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory, module_pgstac_dsn: str,
        module_redis_url: str, eodag_env: dict[str, str]) -> dict:  # noqa: F811
    home = tmp_path_factory.mktemp("home")
    env = {**libpq_env(module_pgstac_dsn), **eodag_env, "EARTHSIG_REDIS_URL": module_redis_url,
           "EARTHSIG_HOME": str(home),
           "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(built(home / "m", "clc-spectral",
                                                            "clc-dynamicworld")),
           "EARTHSIG_DISCOVERY_PROVIDER": "local_stac"}
    return {"home": home, "env": env, "dsn": module_pgstac_dsn,
            "redis": Redis.from_url(module_redis_url),
            "ingest": IngestSettings(_env_file=None, home=home, redis_url=module_redis_url),
            "inference": InferenceSettings(_env_file=None, model_repository=home / "m")}


def _work(ops: dict) -> None:
    """A real worker in burst mode: runs everything queued (chains included), then exits."""
    done = subprocess.run([sys.executable, "-m", "infra", "worker", "--burst"],
                          env={**os.environ, **ops["env"]}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _items(ops: dict) -> dict[str, str]:
    with pgstac_session(ops["dsn"]) as db:
        return dict(db.query("SELECT id, content->'properties'->>'earthsig:model' FROM items"))


def test_daily_discovery_job_then_backfill(ops: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ops["env"].items():
        monkeypatch.setenv(key, value)
    days_back = (dt.datetime.now(dt.UTC).date() - DAY).days
    job = Queue("discover", connection=ops["redis"]).enqueue(
        "ingest.orchestration.operations.daily_discovery", days_back=days_back)
    _work(ops)
    assert job.get_status(refresh=True) == "finished", job.latest_result().exc_string
    assert job.return_value()["queued"] == len(EUROPE_CLEAR)
    first = _items(ops)
    assert len(first) == len(EUROPE_CLEAR)  # clear products over Europe on DAY, all processed

    run = discover_days(DAY, DAY + dt.timedelta(days=1), connection=ops["redis"],
                        ingest=ops["ingest"], inference=ops["inference"],
                        provider="local_stac")
    assert run.skipped == len(EUROPE_CLEAR) and len(run.queued) == 1  # only the next day
    _work(ops)
    assert len(_items(ops)) == len(EUROPE_CLEAR) + 1


def test_reprocess_with_a_new_model_then_retire_the_old(ops: dict) -> None:
    # What an operator does once: move a catalog made by the rule model to the real one.
    before = _items(ops)
    assert set(before.values()) == {"clc-spectral:1"}
    queued = reprocess("clc-dynamicworld:1", connection=ops["redis"], dsn=ops["dsn"],
                       ingest=ops["ingest"], inference=ops["inference"])
    assert len(queued) == len(before)
    _work(ops)
    after = _items(ops)
    assert sorted(after.values()) == ["clc-dynamicworld:1"] * len(before) + \
        ["clc-spectral:1"] * len(before)  # the old model stays served beside the new

    removed = retire("clc-spectral:1", dsn=ops["dsn"], ingest=ops["ingest"])
    assert sorted(removed) == sorted(before)
    assert set(_items(ops).values()) == {"clc-dynamicworld:1"}
    assets = ops["home"] / "assets" / "landcover"
    assert sorted(p.name for p in assets.iterdir()) == sorted(
        i for i, m in after.items() if m == "clc-dynamicworld:1")


def test_scheduler_registers_the_daily_discovery(ops: dict, tmp_path: Path) -> None:
    log = (tmp_path / "scheduler.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "infra", "scheduler", "--cron", "0 6 * * *"],
                            env={**os.environ, **ops["env"]}, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not CronScheduler.all(ops["redis"]):
            assert proc.poll() is None, (tmp_path / "scheduler.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        [scheduler] = CronScheduler.all(ops["redis"])
        assert scheduler.name == "earthsig-daily"
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


def test_a_discovered_safe_zip_is_downloaded_by_the_fetch_stage(
        ops: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Discovery queues the SAFE zip without downloading it; the fetch stage of a real worker
    (EODAG configured from its environment) downloads it into the shared inputs folder, and
    the item is made from it there; the zip goes once the product is published."""
    for key, value in ops["env"].items():
        monkeypatch.setenv(key, value)
    run = discover_days(DAY, DAY, connection=ops["redis"], ingest=ops["ingest"],
                        inference=ops["inference"], provider="local_stac", level="L1C")
    assert len(run.queued) == 1
    inputs = ops["ingest"].inputs
    assert inputs == ops["home"] / "assets" / "inputs"
    assert not inputs.exists()  # nothing downloaded at discovery
    _work(ops)
    sources = catalogued_sources(dsn=ops["dsn"])
    [zipped] = [Path(href) for href in sources.values() if href.endswith(".zip")]
    assert zipped.parent == inputs and sources[zipped.stem] == str(zipped)
    assert not zipped.exists()  # removed once published (EARTHSIG_KEEP_INPUTS unset)
