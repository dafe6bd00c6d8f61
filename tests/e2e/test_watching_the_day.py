"""Operators see the day: `earthsig status` (text, --json, --check) and GET /status per sensing
day and stage, the discovery runs and the alert, on real Redis, real RQ worker processes, real
pgstac and the real ops endpoint under uvicorn.

Products of two sensing days (1 and 2 July 2024) are queued while no worker runs, so every cell
is first "queued"/"waiting"; then workers run them, one product of 2 July fails for good
(a corrupt band), and the discovery log gets a failed run: the alert is raised with both
reasons. Repairing the product, retrying it and a successful discovery run clear it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis import Redis
from rq import Queue

from inference.settings import InferenceSettings
from infra.postgres import libpq_env
from ingest.discovery.runs import (
    CLOUDY,
    QUEUED,
    Decision,
    DiscoveryRunRecord,
    record_run,
)
from ingest.orchestration.days import acquisition_day
from ingest.orchestration.monitor import retry_failed
from ingest.orchestration.queue import Enqueued, JobFailedError, enqueue_product, wait_for
from ingest.orchestration.report import status_report
from ingest.orchestration.stages import Stage, queue_name
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built
from tests.servers import uvicorn_server
from tests.workers import stop_workers

DAY1, DAY2 = dt.date(2024, 7, 1), dt.date(2024, 7, 2)
REPORT_KEYS = {"stages", "published_last_hour", "published_last_day", "failures",
               "generated_at", "days", "discovery", "alert"}
DAY_KEYS = {"day", "day_of", "deadline", "done", "products", "discover", "stages",
            "oldest_waiting"}
CELL_KEYS = {"queued", "running", "waiting", "failed", "done", "causes"}


@dataclass
class Setup:
    home: Path
    env: dict[str, str]
    redis: Redis
    ingest: IngestSettings
    inference: InferenceSettings
    workers: list[subprocess.Popen]

    def start_worker(self, name: str, **extra: str) -> None:
        log = (self.home / f"{name}.log").open("ab")
        self.workers.append(subprocess.Popen(
            [sys.executable, "-m", "infra", "worker", "--name", name],
            env={**os.environ, **self.env, **extra}, stdout=log, stderr=subprocess.STDOUT))

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "infra", "status", *args],
                              env={**os.environ, **self.env}, capture_output=True,
                              text=True, timeout=120)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, module_pgstac_dsn: str,
          module_redis_url: str) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("home")
    env = {**libpq_env(module_pgstac_dsn), "EARTHSIG_REDIS_URL": module_redis_url,
           "EARTHSIG_HOME": str(home),
           "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(built(home / "m")),
           "EARTHSIG_RETRY_INTERVALS_S": "[1, 1, 1]"}
    ingest = IngestSettings(_env_file=None, home=home, redis_url=module_redis_url,
                            retry_intervals_s=[1, 1, 1])
    inference = InferenceSettings(_env_file=None, model_repository=home / "m")
    s = Setup(home, env, Redis.from_url(module_redis_url), ingest, inference, [])
    try:
        yield s
    finally:
        stop_workers(s.workers)


def _run(run_id: str, status: str, decisions: list[Decision], error: str = "") -> tuple[
        DiscoveryRunRecord, list[Decision]]:
    record = DiscoveryRunRecord(
        run_id=run_id, started_at=f"2024-07-03T06:00:0{len(run_id) % 10}+00:00",
        ended_at="2024-07-03T06:01:00+00:00", status=status,
        window=(DAY1.isoformat(), DAY2.isoformat()), model="m", provider="local",
        found=len(decisions), queued=sum(d.outcome == QUEUED for d in decisions),
        skipped=dict(Counter(d.outcome for d in decisions if d.outcome != QUEUED)),
        error=error)
    return record, decisions


def _day(report: dict, day: dt.date) -> dict:
    [row] = [r for r in report["days"] if r["day"] == day.isoformat()]
    return row


def test_acquisition_day_of_both_id_styles() -> None:
    assert acquisition_day("S2A_31TCJ_20240701_0_L2A") == DAY1
    assert acquisition_day("S2B_MSIL2A_20240702T103031_N0510_R108_T31TCJ_20240703T120000") \
        == DAY2
    assert acquisition_day("my-own-product") is None


def test_the_day_queued_run_failed_and_cleared(setup: Setup) -> None:  # noqa: PLR0915
    samples = setup.home / "samples"
    day1 = [make_sample_product(t, DAY1, 256, samples, seed=i)
            for i, t in enumerate(("T31TCJ", "T31TDJ"))]
    day2_good = make_sample_product("T31TCJ", DAY2, 256, samples, seed=3)
    day2_bad = make_sample_product("T31TDJ", DAY2, 256, samples, seed=4)
    spare = setup.home / "spare"
    shutil.copytree(day2_bad.parent, spare)
    (day2_bad.parent / "B04.tif").write_bytes(b"II*\x00 this is not a GeoTIFF any more")

    queued: list[Enqueued] = [
        enqueue_product(str(h), None, connection=setup.redis, ingest=setup.ingest,
                        inference=setup.inference) for h in [*day1, day2_good, day2_bad]]
    ids = [q.product_id for q in queued]
    assert [acquisition_day(i) for i in ids] == [DAY1, DAY1, DAY2, DAY2]
    cloudy = "S2A_31TEJ_20240701_0_L2A"
    record_run(setup.redis, *_run("run-1", "ok", [
        *(Decision(i, QUEUED) for i in ids), Decision(cloudy, CLOUDY, "81 %")]))

    # No worker yet: every product of both days is waiting, and 2024 is long past its deadline.
    report = status_report(setup.redis, setup.ingest)
    assert set(report) == REPORT_KEYS
    assert [r["day"] for r in report["days"]] == ["2024-07-02", "2024-07-01"]
    one = _day(report, DAY1)
    assert set(one) == DAY_KEYS and one["day_of"] == "acquisition"
    assert one["deadline"] == "2024-07-02T12:00:00+00:00"
    assert one["discover"] == {"found": 3, "queued": 2, "skipped": {CLOUDY: 1}}
    assert one["stages"]["fetch"] == {"queued": 2, "running": 0, "waiting": 0, "failed": 0,
                                      "done": 0, "causes": {}}
    assert one["stages"]["infer"]["waiting"] == 2 and one["stages"]["publish"]["waiting"] == 2
    assert one["products"] == {"total": 2, "done": 0, "in_flight": 2, "failed": 0,
                               "failed_share": 0.0}
    assert one["done"] is False
    assert one["oldest_waiting"]["product_id"] == ids[0]
    assert one["oldest_waiting"]["stage"] == "fetch" and one["oldest_waiting"]["age_s"] >= 0
    assert _day(report, DAY2)["stages"]["fetch"]["queued"] == 2
    assert report["alert"]["active"] is True
    assert {(r["kind"], r["day"]) for r in report["alert"]["reasons"]} == {
        ("late", "2024-07-01"), ("late", "2024-07-02")}
    # The deadline of 1 July is noon on 2 July; 2 July's is a day later.
    before = status_report(setup.redis, setup.ingest,
                           now=dt.datetime(2024, 7, 2, 11, 59, tzinfo=dt.UTC))
    assert before["alert"] == {"active": False, "reasons": []}
    at = status_report(setup.redis, setup.ingest,
                       now=dt.datetime(2024, 7, 2, 12, 0, tzinfo=dt.UTC))
    assert [(r["kind"], r["day"]) for r in at["alert"]["reasons"]] == [("late", "2024-07-01")]

    # One worker, held still inside the first fetch (a pause point): that product runs.
    marker = setup.home / "paused"
    setup.start_worker("w0", EARTHSIG_PAUSE_AT=f"fetch:{marker}")
    deadline = time.monotonic() + 120
    while not (marker.exists() and marker.read_text()):
        assert time.monotonic() < deadline, "the first fetch never reached its pause point"
        time.sleep(0.2)
    one = _day(status_report(setup.redis, setup.ingest), DAY1)
    assert one["stages"]["fetch"]["running"] == 1 and one["stages"]["fetch"]["queued"] == 1
    assert one["products"]["in_flight"] == 2
    assert one["oldest_waiting"]["product_id"] == ids[1]  # ids[0] runs: it is not waiting
    # A lost work horse: RQ retries its job (1 s later), which runs through the pause point.
    os.kill(int(marker.read_text()), signal.SIGKILL)
    setup.start_worker("w1")
    for q in queued[:3]:
        wait_for(q.job_id, connection=setup.redis, timeout_s=300)
    with pytest.raises(JobFailedError, match="invalid input"):
        wait_for(queued[3].job_id, connection=setup.redis, timeout_s=120)
    record_run(setup.redis, *_run("run-2", "failed", [], error="every provider failed"))

    report = status_report(setup.redis, setup.ingest)
    one, two = _day(report, DAY1), _day(report, DAY2)
    assert one["products"] == {"total": 2, "done": 2, "in_flight": 0, "failed": 0,
                               "failed_share": 0.0}
    assert one["done"] is True and one["oldest_waiting"] is None
    assert two["oldest_waiting"] is None  # the failed product's stages are blocked, not waiting
    for stage in ("fetch", "infer", "publish"):
        assert one["stages"][stage]["done"] == 2 and one["stages"][stage]["queued"] == 0
    assert two["products"] == {"total": 2, "done": 1, "in_flight": 0, "failed": 1,
                               "failed_share": 0.5}
    fetch = two["stages"]["fetch"]
    assert fetch["failed"] == 1 and fetch["done"] == 1
    [(why, count)] = fetch["causes"].items()
    assert count == 1 and why.startswith("invalid input") and "B04" in why
    # The failed product's later stages stay deferred behind it, until it is retried.
    assert two["stages"]["infer"]["waiting"] == 1 and two["stages"]["publish"]["done"] == 1
    assert set(two["stages"]["infer"]) == CELL_KEYS
    assert [r["run_id"] for r in report["discovery"]["runs"]] == ["run-2", "run-1"]
    assert report["discovery"]["runs"][1]["skipped"] == {CLOUDY: 1}
    assert report["discovery"]["totals"] == {"ok": 1, "failed": 1}
    assert {(r["kind"], r["day"]) for r in report["alert"]["reasons"]} == {
        ("failures", "2024-07-02"), ("discovery", None)}

    # The same, through the command line and the endpoint.
    checked = setup.cli("--check")
    assert checked.returncode == 1, checked.stderr
    assert "day 2024-07-02 (by acquisition day): 2 product(s), 1 done, 0 in flight, 1 failed" \
        in checked.stdout
    assert "[failures] 2024-07-02: 1 of 2 product(s) failed (50% > 5%)" in checked.stdout
    assert "[discovery]" in checked.stdout and "every provider failed" in checked.stdout
    as_json = setup.cli("--json")
    assert as_json.returncode == 0, as_json.stderr  # without --check, the alert is data only
    printed = json.loads(as_json.stdout)
    assert printed["alert"]["active"] is True and printed["days"][0]["day"] == "2024-07-02"
    with uvicorn_server("infra.ops_app:create_app", setup.env, health_path="/healthz") as url:
        body = httpx.get(f"{url}/status", timeout=30).json()
        assert set(body) == REPORT_KEYS
        assert {r["kind"] for r in body["alert"]["reasons"]} == {"failures", "discovery"}
        assert _day(body, DAY2)["stages"]["fetch"]["causes"] == fetch["causes"]

        # Repaired, retried, discovery back: the alert clears everywhere.
        shutil.copy(spare / "B04.tif", day2_bad.parent / "B04.tif")
        assert retry_failed(setup.redis, setup.ingest)
        wait_for(queued[3].job_id, connection=setup.redis, timeout_s=300)
        record_run(setup.redis, *_run("run-3", "ok", [Decision(ids[3], "already queued")]))
        body = httpx.get(f"{url}/status", timeout=30).json()
    assert body["alert"] == {"active": False, "reasons": []}
    two = _day(body, DAY2)
    assert two["products"] == {"total": 2, "done": 2, "in_flight": 0, "failed": 0,
                               "failed_share": 0.0}
    assert two["stages"]["fetch"]["causes"] == {} and two["stages"]["publish"]["done"] == 2
    checked = setup.cli("--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "alert: none" in checked.stdout


def test_a_product_without_a_date_is_filed_under_the_day_queued(redis_url: str,
                                                                tmp_path: Path) -> None:
    """An href product whose id carries no date: its row is the day its chain was queued."""
    redis = Redis.from_url(redis_url)
    ingest = IngestSettings(_env_file=None, home=tmp_path, redis_url=redis_url)
    Queue(queue_name(Stage.FETCH, ingest), connection=redis).enqueue(
        "builtins.len", "no worker runs this", meta={"product_id": "orthophoto-lot-7"})
    now = dt.datetime.now(dt.UTC)
    report = status_report(redis, ingest, now=now + dt.timedelta(minutes=5))
    [row] = report["days"]
    assert (row["day"], row["day_of"]) == (now.date().isoformat(), "queued")
    assert row["stages"]["fetch"]["queued"] == 1 and row["products"]["in_flight"] == 1
    assert row["oldest_waiting"]["product_id"] == "orthophoto-lot-7"
    assert 290 <= row["oldest_waiting"]["age_s"] <= 310 + 60
