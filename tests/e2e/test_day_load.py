"""A day's load, run for real at reduced size, through its faults (issue 23, point 3).

A simulated sensing day over Europe (``tests.simulated_day``: real MGRS tiles, three
satellites' passes, one L2A product per acquisition and some L1C duplicates) is served by two
local STAC providers that EODAG searches over HTTP. Four workers on two "hosts" (own homes
and processes, clean environments) share one Redis (a redis-server of the test's own, with
append-only persistence, so it can be restarted), one pgstac and one S3-protocol store.

The day's story: the primary provider goes down before the day's run, which fails; the next
day's run fails over to the backup and its window reaches back over the missed day; a worker
is SIGKILLed inside a job (files uploaded as a run, not yet registered); Redis restarts while
the day is half done; the primary, back, is searched again while products are in flight.
Afterwards every acquisition is published exactly once (one item per source product, one run
of files per item, no L1C duplicate), nothing is queued, running, deferred or failed, the
catalog holds as many items as the provider lists acquisitions, and ``earthsig status --json``
tells the day as done with its counts.

``EARTHSIG_DAY_LOAD_PRODUCTS`` (default 120: 3.5 minutes on a quiet 2-core machine, 6 on a
busy one) picks how many of the day's acquisitions are served; ``all`` serves the whole day
(702 acquisitions, 89 L1C duplicates).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq.job import Job
from rq.registry import StartedJobRegistry

from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from infra.postgres import libpq_env
from infra.redis_server import OwnedRedis
from infra.settings import StackSettings
from ingest.discovery import DiscoveryError, load_aoi
from ingest.discovery.daily import run_discovery
from ingest.discovery.runs import (
    DUPLICATE,
    IN_QUEUE,
    PUBLISHED,
    QUEUED,
    DiscoveryRunRecord,
    run_decisions,
)
from ingest.orchestration.pausepoints import ENV as PAUSE_ENV
from ingest.settings import IngestSettings
from tests.day_rig import (
    DayProviders,
    day_providers,
    published_sources,
    runs_in_store,
    stage_queues,
    unfinished,
    wait_until,
)
from tests.e2e.faults import all_done
from tests.hosts import Host, create_public_bucket, new_host, shared_environment
from tests.models import built
from tests.servers import moto_s3_server
from tests.simulated_day import WrittenDay, day_passes, sample_of, write_day
from tests.workers import kill_worker, stop_workers

DAY = dt.date(2025, 7, 3)
BUCKET = "earthsig-day"
PRODUCTS_VAR = "EARTHSIG_DAY_LOAD_PRODUCTS"


def _products() -> int | None:
    value = os.environ.get(PRODUCTS_VAR, "120")
    return None if value == "all" else int(value)


def _scale(day: WrittenDay) -> float:
    """How much longer than the default sample's the waits may be (the whole day: 5.85x)."""
    return max(1.0, len(day.l2a) / 120)


@pytest.fixture
def redis_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnedRedis]:
    monkeypatch.delenv("EARTHSIG_REDIS_URL", raising=False)
    owned = OwnedRedis(StackSettings(_env_file=None, home=tmp_path / "stack"))
    owned.start()  # append-only persistence, as the stack runs it
    yield owned
    owned.stop()


@pytest.fixture
def s3_endpoint(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "moto").mkdir()
    with moto_s3_server(tmp_path / "moto") as endpoint:
        create_public_bucket(endpoint, BUCKET)
        yield endpoint


def _status(env: dict[str, str]) -> dict:
    """What an operator sees: ``earthsig status --json``, run as the CLI."""
    done = subprocess.run([sys.executable, "-m", "infra", "status", "--json"],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# The suite's 600 s a test suits the default sample; the whole day takes ~35-60 min.
@pytest.mark.timeout(600 if (_products() or 10**6) <= 120 else 5400)
def test_a_day_over_europe_through_outage_kill_and_redis_restart(
        tmp_path: Path, pgstac_dsn: str, redis_server: OwnedRedis, s3_endpoint: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    day = write_day(sample_of(day_passes(DAY), _products()), tmp_path / "day")
    assert day.l1c, "the sample holds no L1C duplicate to choose against"
    url = redis_server.url
    home = tmp_path / "enqueuer"
    inference = InferenceSettings(_env_file=None, model_repository=built(home / "models"))
    model = ModelRepository.from_settings(inference).resolve(inference.default_model).spec.ref
    settings = IngestSettings(_env_file=None, home=home, redis_url=url,
                              discovery_lookback_days=1, discovery_search_attempts=2,
                              discovery_retry_delays_s=[0.01], retry_intervals_s=[1, 2, 4])
    shared = {**shared_environment(libpq_env(pgstac_dsn), url, s3_endpoint, BUCKET,
                                   inference.default_model),
              "EARTHSIG_RETRY_INTERVALS_S": "[1, 2, 4]"}
    hosts = {name: new_host(name, tmp_path / name, shared) for name in ("host-a", "host-b")}
    marker = tmp_path / "paused"
    # a1 holds its first inference once, to be killed there.
    hosts["host-a"].start_worker("a1", **{PAUSE_ENV: f"infer-published:{marker}"})
    hosts["host-a"].start_worker("a2")
    for name in ("b1", "b2"):
        hosts["host-b"].start_worker(name)
    redis = Redis.from_url(url)

    def logs() -> str:
        return "\n".join(h.logs() for h in hosts.values())

    try:
        with day_providers(tmp_path / "day", tmp_path / "providers") as providers:
            for key, value in providers.eodag_env.items():
                monkeypatch.setenv(key, value)
            from eodag import EODataAccessGateway

            dag = EODataAccessGateway()

            def discover(end: dt.date, names: list[str]) -> DiscoveryRunRecord:
                return run_discovery(dag, connection=redis, end=end, aoi=load_aoi("europe"),
                                     max_cloud=60.0, model_ref=model, dsn=pgstac_dsn,
                                     inference=inference, settings=settings.model_copy(
                                         update={"discovery_providers": names}))

            _discover_through_an_outage(providers, discover, day, redis)
            killed = _kill_and_restart(hosts, marker, redis_server, pgstac_dsn, day,
                                       settings, logs)
            redis = Redis.from_url(url)
            # The primary is back: searched while the day is in flight, it queues nothing.
            providers.outage("primary", False)
            again = discover(DAY + dt.timedelta(days=2), ["primary"])
            assert again.provider == "primary" and again.queued == 0
            assert set(again.skipped) <= {IN_QUEUE, PUBLISHED, DUPLICATE}
            wait_until(lambda: sum(published_sources(pgstac_dsn).values()) >= len(day.l2a)
                       and not unfinished(redis, settings), 600 * _scale(day),
                       lambda: f"{unfinished(redis, settings)}\n{logs()}")
    finally:
        stop_workers([w for h in hosts.values() for w in h.workers.values()])

    _assert_published_once(day, pgstac_dsn, s3_endpoint)
    retried = Job.fetch(killed, connection=redis)  # run again, to the end, by another worker
    assert retried.get_status() == "finished" and retried.meta["attempts"] == 2
    assert retried.worker_name != "a1"
    assert unfinished(redis, settings) == {}
    for queue in stage_queues(redis, settings):
        assert StartedJobRegistry(queue=queue).count == 0
    _assert_status_tells_the_day(day, {**libpq_env(pgstac_dsn), "EARTHSIG_REDIS_URL": url,
                                       "EARTHSIG_HOME": str(home)})


def _discover_through_an_outage(providers: DayProviders,
                                discover: Callable[[dt.date, list[str]], DiscoveryRunRecord],
                                day: WrittenDay, redis: Redis) -> None:
    assert discover(DAY - dt.timedelta(days=1), ["primary"]).found == 0  # the day before
    providers.outage("primary", True)
    with pytest.raises(DiscoveryError, match="every provider failed: primary"):
        discover(DAY, ["primary"])
    # The next day's run: the primary still down, the backup answers, and the window reaches
    # back over the day the failed run missed.
    caught = discover(DAY + dt.timedelta(days=1), ["primary", "backup"])
    assert caught.provider == "backup"
    assert caught.window == (DAY.isoformat(), (DAY + dt.timedelta(days=1)).isoformat())
    assert [(a.provider, a.ok) for a in caught.attempts] == [
        ("primary", False), ("primary", False), ("backup", True)]
    assert caught.found == day.listed and caught.queued == len(day.l2a)
    assert caught.skipped == {DUPLICATE: len(day.l1c)}
    decisions = {d.product_id: d.outcome for d in run_decisions(redis, caught.run_id)}
    assert {p for p, o in decisions.items() if o == QUEUED} == set(day.l2a)


def _kill_and_restart(hosts: dict[str, Host], marker: Path, redis_server: OwnedRedis,
                      dsn: str, day: WrittenDay, settings: IngestSettings,
                      logs: Callable[[], str]) -> str:
    """SIGKILL a worker inside a job, then restart Redis; return the killed job's id."""
    def published() -> int:
        return sum(published_sources(dsn).values())

    # a1 holds an inference whose files are uploaded as a run, not yet registered.
    wait_until(marker.exists, 120, lambda: f"no job paused\n{logs()}", poll_s=0.2)
    # Killed early (a fifth of the default sample): the job is paused for 120 s only.
    wait_until(lambda: published() >= min(len(day.l2a) // 5, 24), 100,
               lambda: f"{published()} published\n{logs()}")
    redis = Redis.from_url(redis_server.url)
    held = [Job.fetch(i, connection=redis) for q in stage_queues(redis, settings)
            for i in StartedJobRegistry(queue=q).get_job_ids()]
    [job] = [j for j in held if j.worker_name == "a1"]
    assert job.meta["horse_pid"] == int(marker.read_text())
    kill_worker(hosts["host-a"].workers.pop("a1"), int(marker.read_text()))
    hosts["host-a"].start_worker("a3")  # the pod restarted: a new worker, a new name

    wait_until(lambda: published() >= len(day.l2a) // 2, 300 * _scale(day),
               lambda: f"{published()} published\n{logs()}")
    redis_server.stop()  # mid-run: half the day queued or in flight
    assert published() < len(day.l2a)
    time.sleep(1)
    redis_server.start()
    return job.id


def _assert_published_once(day: WrittenDay, dsn: str, s3_endpoint: str) -> None:
    sources = published_sources(dsn)
    assert set(sources) == set(day.l2a), (set(sources) ^ set(day.l2a))
    assert set(sources.values()) == {1}  # one item per acquisition
    runs = runs_in_store(s3_endpoint, BUCKET)
    assert ".staging" not in runs
    assert len(runs) == len(day.l2a)
    assert {item: len(r) for item, r in runs.items() if len(r) != 1} == {}


def _assert_status_tells_the_day(day: WrittenDay, env: dict[str, str]) -> None:
    report = _status(env)
    [row] = [r for r in report["days"] if r["day"] == DAY.isoformat()]
    n = len(day.l2a)
    assert row["done"] is True
    assert {k: row["products"][k] for k in ("total", "done", "in_flight", "failed")} == {
        "total": n, "done": n, "in_flight": 0, "failed": 0}
    assert row["discover"] == {"found": day.listed, "queued": n,
                               "skipped": {DUPLICATE: len(day.l1c)}}
    assert report["stages"] == all_done(n)
    assert report["discovery"]["totals"] == {"ok": 3, "failed": 1}
