"""`earthsig process --wait` with and without a worker on the queues, on a real Redis: it says at
once that nobody listens, gives up after the grace with a non-zero exit, and finishes once a
real worker comes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker

from infra.postgres import libpq_env
from samples import make_sample_product
from tests.models import built
from tests.workers import stop_workers


@pytest.fixture
def env(tmp_path: Path, pgstac_dsn: str, redis_url: str) -> dict[str, str]:
    return {**os.environ, **libpq_env(pgstac_dsn), "EARTHSIG_REDIS_URL": redis_url,
            "EARTHSIG_HOME": str(tmp_path),
            "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(built(tmp_path / "m"))}


@pytest.fixture
def product(tmp_path: Path) -> str:
    return str(make_sample_product("T31TCJ", date(2024, 7, 1), 256, tmp_path / "s", seed=3))


def _process(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "infra", "process", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    stop_workers(started)


def test_without_a_worker_it_says_so_and_gives_up(env: dict[str, str], product: str) -> None:
    proc = _process(env, product, "--wait", "--worker-grace", "2")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert out == ""  # no item id
    lines = err.splitlines()
    assert lines[0].startswith("queued: ")
    assert lines[1].startswith("no worker is listening on queue fetch, infer, publish: start "
                               "one with `earthsig worker`")
    assert "gave up: no worker listened on queue fetch, infer, publish for 2 s" in lines[-1]
    assert "Error: " in lines[-1]


def test_a_worker_that_comes_later_runs_the_chain(env: dict[str, str], product: str,
                                                   tmp_path: Path,
                                                   workers: list[subprocess.Popen]) -> None:
    proc = _process(env, product, "--wait", "--worker-grace", "300", "--timeout", "300")
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("queued: ")
        assert proc.stderr.readline().startswith("no worker is listening on queue fetch")
        with (tmp_path / "worker.log").open("wb") as log:
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "infra", "worker", "--name", "late"], env=env,
                stdout=log, stderr=subprocess.STDOUT))
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip().startswith("S2")  # the published item's id
    assert "gave up" not in err


def test_with_a_worker_listening_nothing_is_said(env: dict[str, str], product: str,
                                                 tmp_path: Path,
                                                 workers: list[subprocess.Popen]) -> None:
    with (tmp_path / "worker.log").open("wb") as log:
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "infra", "worker", "--name", "early"], env=env,
            stdout=log, stderr=subprocess.STDOUT))
    connection = Redis.from_url(env["EARTHSIG_REDIS_URL"])
    while not Worker.all(connection=connection):  # registered once it listens
        assert workers[0].poll() is None, (tmp_path / "worker.log").read_text()
        time.sleep(0.2)
    proc = _process(env, product, "--wait", "--worker-grace", "1", "--timeout", "300")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert out.strip().startswith("S2")
    assert "no worker" not in err
