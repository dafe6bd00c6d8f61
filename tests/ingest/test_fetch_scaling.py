"""Fetching that scales (issue 23, point 2): inputs removed after publication, a disk ceiling
that pauses fetch jobs, download slots per provider that survive a killed worker.

Real services throughout: EODAG against the local STAC API of the discovery tests, Redis, RQ
workers (in process, or ``python -m infra worker`` processes), pgstac, and a download server
that counts the downloads in flight (``slow_files``).
"""

# ruff: noqa: F811 - the fixtures imported from test_discovery are taken as parameters
from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis
from rq import Queue, Retry, SimpleWorker
from rq.job import Job, JobStatus

from ingest.discovery import enqueue_candidates
from ingest.fetch import ProductSource
from ingest.fetch_inputs import claim_input, release_input
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.jobs import fetch_job
from ingest.orchestration.stages import WORK_ORDER, Stage
from ingest.orchestration.worker import PipelineWorker
from ingest.settings import IngestSettings
from tests.ingest.test_discovery import (  # noqa: F401 (fixtures)
    _search,
    api,
    catalog,
    dag,
    eodag_env,
    model,
)
from tests.servers import uvicorn_server
from tests.workers import kill_worker, stop_workers


class InProcessWorker(SimpleWorker, PipelineWorker):
    """The pipeline's worker, running its jobs in the test's process (its logs in caplog)."""


def _work(connection: Redis) -> None:
    InProcessWorker([Queue(s.value, connection=connection) for s in WORK_ORDER],
                    connection=connection).work(burst=True, with_scheduler=True)


def _env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def chain_env(eodag_env: dict[str, str], model, pg_env: dict[str, str], redis_url: str,
              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings of a chain run by an in-process worker; returns the shared inputs folder."""
    inference, _ref = model
    inputs = tmp_path / "shared-inputs"
    _env(monkeypatch, {**eodag_env, **pg_env, "EARTHSIG_HOME": str(tmp_path / "home"),
                       "EARTHSIG_INPUTS_ROOT": str(inputs), "EARTHSIG_REDIS_URL": redis_url,
                       "EARTHSIG_INPUTS_MIN_FREE_GB": "0", "EARTHSIG_FETCH_PAUSE_S": "1",
                       "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(inference.model_repository)})
    return inputs


def _status(job_id: str, connection: Redis) -> JobStatus:
    return Job.fetch(job_id, connection=connection).get_status(refresh=True)


def test_inputs_are_removed_after_publication_and_cogs_are_untouched(
        dag, model, catalog: dict, chain_env: Path, redis_url: str) -> None:
    _inference, ref = model
    connection = Redis.from_url(redis_url)
    [cog] = _search(dag)[:1]
    [zipped] = _search(dag, level="L1C")
    cog_files = sorted(p.name for p in (catalog["root"] / "files" / cog.id).iterdir())
    queued = enqueue_candidates([cog, zipped], ref, connection=connection)
    _work(connection)
    assert [_status(q.job_id, connection) for q in queued] == [JobStatus.FINISHED] * 2
    # The zip was downloaded (the infer stage read it from the inputs folder) ...
    infer = Job.fetch(ChainIds.from_job_id(queued[1].job_id).job_id(Stage.INFER),
                      connection=connection)
    source = next(link for link in infer.return_value()["item"]["links"]
                  if link["rel"] == "derived_from")
    assert source["href"] == str(chain_env / f"{zipped.id}.zip")
    # ... and removed once published; the COG product read in place is as it was.
    assert list(chain_env.iterdir()) == []
    assert sorted(p.name for p in (catalog["root"] / "files" / cog.id).iterdir()) == cog_files
    assert not connection.keys("earthsig:inputs:claims:*")


def test_inputs_are_kept_with_the_setting(dag, model, chain_env: Path, redis_url: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _inference, ref = model
    monkeypatch.setenv("EARTHSIG_KEEP_INPUTS", "true")
    connection = Redis.from_url(redis_url)
    [zipped] = _search(dag, level="L1C")
    [queued] = enqueue_candidates([zipped], ref, connection=connection)
    _work(connection)
    assert _status(queued.job_id, connection) == JobStatus.FINISHED
    assert [p.name for p in chain_env.iterdir()] == [f"{zipped.id}.zip"]


def test_an_input_stays_while_another_chain_needs_it(redis_url: str, tmp_path: Path) -> None:
    """Two model versions' chains of one product: the first to publish leaves the zip to the
    other; a chain that claims it after the last release downloads it again."""
    settings = IngestSettings(_env_file=None, inputs_root=tmp_path)
    connection = Redis.from_url(redis_url)
    zipped = tmp_path / "P.zip"
    zipped.write_bytes(b"zip")
    claim_input(connection, "P", "P-clc-v1", settings)
    claim_input(connection, "P", "P-clc-v2", settings)
    assert not release_input(connection, "P", "P-clc-v1", settings)
    assert zipped.read_bytes() == b"zip"
    assert not release_input(connection, "P", "P-clc-v1", settings)  # released already
    assert release_input(connection, "P", "P-clc-v2", settings)
    assert not zipped.exists()
    # Never claimed (a product read in place, or a file someone put there): left alone.
    zipped.write_bytes(b"zip")
    assert not release_input(connection, "P", "P-clc-v3", settings)
    assert zipped.exists()


def test_the_disk_ceiling_pauses_fetching_until_space_is_freed(
        dag, model, catalog: dict, chain_env: Path, redis_url: str,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _inference, ref = model
    zip_bytes = catalog["zip"].stat().st_size
    # Room for the product, not for the product and what already fills the folder.
    monkeypatch.setenv("EARTHSIG_INPUTS_MAX_GB", str(2 * zip_bytes / 1e9))
    chain_env.mkdir(parents=True)
    filler = chain_env / "other-product.zip"
    filler.write_bytes(b"\0" * (3 * zip_bytes))
    connection = Redis.from_url(redis_url)
    [zipped] = _search(dag, level="L1C")
    [queued] = enqueue_candidates([zipped], ref, connection=connection)
    fetch_id = ChainIds.from_job_id(queued.job_id).job_id(Stage.FETCH)
    caplog.set_level(logging.INFO)
    for _ in range(2):  # paused, tried again after its delay, paused again
        _work(connection)
        fetch = Job.fetch(fetch_id, connection=connection)
        assert fetch.get_status(refresh=True) == JobStatus.SCHEDULED  # put back, not failed
        time.sleep(1.2)  # EARTHSIG_FETCH_PAUSE_S: due again
    assert fetch.meta["pauses"] == 2 and fetch.retries_left == IngestSettings().retries
    assert fetch.meta["cause"].startswith("paused: disk ceiling: inputs folder holds")
    assert not Queue("fetch", connection=connection).failed_job_registry.get_job_ids()
    assert sorted(p.name for p in chain_env.iterdir()) == ["other-product.zip"]
    paused = [r.getMessage() for r in caplog.records if "paused at the disk ceiling" in
              r.getMessage()]
    assert len(paused) == 1  # once per pause, with the figures
    assert f"inputs folder holds {3 * zip_bytes / 1e9:.3f} GB" in paused[0]
    assert f"ceiling {2 * zip_bytes / 1e9}" in paused[0]
    filler.unlink()  # space freed
    _work(connection)
    assert _status(queued.job_id, connection) == JobStatus.FINISHED
    assert sum("fetching resumes" in r.getMessage() for r in caplog.records) == 1
    assert list(chain_env.iterdir()) == []  # published, then removed


# --- Download slots, with worker processes -------------------------------------------------

@pytest.fixture
def slow_server(catalog: dict) -> Iterator[str]:
    with uvicorn_server("tests.ingest.slow_files:create_app",
                        {"EARTHSIG_TEST_SLOW_ZIP": str(catalog["zip"]),
                         "EARTHSIG_TEST_SLOW_CHUNK_S": "0.05"}) as base:
        yield base


def _sources(dag, server: str, names: list[str]) -> list[ProductSource]:
    """The provider's L1C product under other ids, each downloaded from ``server``."""
    [candidate] = _search(dag, level="L1C")
    described = ProductSource.of_eodag(candidate.product).as_dict()["eodag"]
    sources = []
    for name in names:
        eodag = copy.deepcopy(described)
        eodag["id"] = eodag["properties"]["id"] = name
        eodag["properties"]["eodag:download_link"] = f"{server}/zip/{name}.zip"
        sources.append(ProductSource(name, eodag=json.loads(json.dumps(eodag))))
    return sources


def _enqueue_fetch(source: ProductSource, connection: Redis) -> str:
    job_id = ChainIds.of(source.product_id, "clc-spectral:1").job_id(Stage.FETCH)
    Queue("fetch", connection=connection).enqueue_call(
        fetch_job, args=(source.as_dict(),), job_id=job_id, timeout=600,
        retry=Retry(max=2, interval=1))  # as a chain's: a killed job is tried again
    return job_id


def _start_workers(n: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen]:
    workers = []
    for i in range(n):
        with (logs / f"worker-{i}.log").open("ab") as log:
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "infra", "worker", "--queues", "fetch", "--name",
                 f"fetch-{i}"], env={**os.environ, **env}, stdout=log,
                stderr=subprocess.STDOUT))
    return workers


def _wait_finished(job_ids: list[str], connection: Redis, logs: Path,
                   timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while any(_status(j, connection) != JobStatus.FINISHED for j in job_ids):
        failed = [j for j in job_ids if _status(j, connection) == JobStatus.FAILED]
        assert not failed, [Job.fetch(j, connection=connection).latest_result().exc_string
                            for j in failed]
        if time.monotonic() > deadline:
            raise AssertionError("\n".join(p.read_text()[-3000:] for p in logs.glob("*.log")))
        time.sleep(0.5)


@pytest.fixture
def worker_env(eodag_env: dict[str, str], redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {**eodag_env, "EARTHSIG_REDIS_URL": redis_url, "EARTHSIG_HOME": str(tmp_path),
            "EARTHSIG_INPUTS_ROOT": str(tmp_path / "inputs"),
            "EARTHSIG_INPUTS_MIN_FREE_GB": "0", "EARTHSIG_FETCH_PER_PROVIDER": "1",
            "EARTHSIG_FETCH_PER_HOST": "3", "EARTHSIG_FETCH_SLOT_WAIT_S": "120"}


def test_one_download_at_a_time_from_a_provider_bounded_to_one(
        dag, slow_server: str, worker_env: dict[str, str], redis_url: str,
        tmp_path: Path) -> None:
    connection = Redis.from_url(redis_url)
    sources = _sources(dag, slow_server, ["P1", "P2", "P3"])
    job_ids = [_enqueue_fetch(s, connection) for s in sources]
    workers = _start_workers(3, worker_env, tmp_path)
    try:
        _wait_finished(job_ids, connection, tmp_path)
    finally:
        stop_workers(workers)
    stats = httpx.get(f"{slow_server}/_stats").json()
    assert stats["started"] == {"P1.zip": 1, "P2.zip": 1, "P3.zip": 1}
    assert stats["max"] == 1  # the bound held ...
    jobs = [Job.fetch(j, connection=connection) for j in job_ids]
    assert len({j.worker_name for j in jobs}) == 3  # ... over three workers,
    first_end = min(j.ended_at for j in jobs)
    assert all(j.started_at < first_end for j in jobs)  # whose jobs all ran at once
    assert sorted(p.name for p in (tmp_path / "inputs").glob("*.zip")) == \
        ["P1.zip", "P2.zip", "P3.zip"]


def test_a_worker_killed_holding_a_slot_frees_it_at_expiry(
        dag, slow_server: str, worker_env: dict[str, str], redis_url: str,
        tmp_path: Path) -> None:
    connection = Redis.from_url(redis_url)
    env = {**worker_env, "EARTHSIG_FETCH_SLOT_TTL_S": "3"}
    stalled, waiting = _sources(dag, slow_server, ["stall-P1", "P2"])
    workers = _start_workers(2, env, tmp_path)
    try:
        first = _enqueue_fetch(stalled, connection)
        deadline = time.monotonic() + 120
        while httpx.get(f"{slow_server}/_stats").json()["active"] < 1:  # it holds the slot
            assert time.monotonic() < deadline, "the first download never started"
            time.sleep(0.2)
        job = Job.fetch(first, connection=connection)
        holder = next(w for w in workers if f"fetch-{workers.index(w)}" == job.worker_name)
        kill_worker(holder, int(job.meta["horse_pid"]))
        second = _enqueue_fetch(waiting, connection)
        # The survivor waits for the dead worker's slot to lapse, then downloads; the killed
        # job, recovered as abandoned, is retried and downloads too.
        _wait_finished([second, first], connection, tmp_path)
    finally:
        stop_workers(workers)
    stats = httpx.get(f"{slow_server}/_stats").json()
    assert stats["started"] == {"stall-P1.zip": 2, "P2.zip": 1}
    assert "pauses" not in Job.fetch(second, connection=connection).meta  # waited, in time
    assert sorted(p.name for p in (tmp_path / "inputs").glob("*.zip")) == \
        ["P2.zip", "stall-P1.zip"]
