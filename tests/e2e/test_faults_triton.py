"""Triton down when inference starts (issue 11, item 1), with the real local Triton server.

A worker configured for the Triton backend finds no server: the infer stage fails with a
transient cause naming the server and the model and is retried with back-off; once the server
is started (``tritonserver`` of the nvidia-pytriton wheel, on the worker's own model
repository) the retry completes and the product is published once.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from rq.job import Job, JobStatus

from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from inference.triton_serve import TritonLayout, start_server, wait_ready
from infra.ports import free_port
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.queue import enqueue_product, wait_for
from ingest.orchestration.stages import Stage
from samples import make_sample_product
from tests.e2e.faults import Pipeline, all_done, assert_published_once

MODEL = "clc-spectral"


@pytest.fixture
def layout() -> TritonLayout:
    layout = TritonLayout(InferenceSettings(_env_file=None).triton_venv.resolve())
    try:
        layout.binary  # noqa: B018 - raises when the Triton venv is missing
    except Exception as exc:
        pytest.skip(f"no local Triton server: {exc}")
    return layout


@pytest.fixture
def pipeline(tmp_path: Path, pgstac_dsn: str, redis_url: str) -> Iterator[Pipeline]:
    # Each attempt tries Triton twice (0.5 s apart); the stage is retried every 3 s for a
    # minute: the server below is ready within ~10 s of its start.
    p = Pipeline(tmp_path / "home", pgstac_dsn, redis_url, retry_intervals_s=[3] * 20)
    p.home.mkdir()
    yield p
    p.stop()


def test_triton_down_when_inference_starts_is_retried_until_it_is_up(
        pipeline: Pipeline, layout: TritonLayout, tmp_path: Path) -> None:
    repo = ModelRepository(pipeline.home / "m")
    repo.build_reference(MODEL)
    grpc_port, http_port = free_port(), free_port()
    url = f"127.0.0.1:{grpc_port}"
    pipeline.extra_env.update({"EARTHSIG_INFERENCE_BACKEND": "triton",
                               "EARTHSIG_INFERENCE_TRITON_URL": url,
                               "EARTHSIG_INFERENCE_TRITON_RETRIES": "1"})
    pipeline.start_worker("t0")
    href = str(make_sample_product("T31TCJ", date(2024, 7, 1), 256, pipeline.home / "s",
                                   seed=6))
    queued = enqueue_product(href, f"{MODEL}:1", connection=pipeline.redis,
                             ingest=pipeline.ingest, inference=pipeline.inference)
    infer = ChainIds.of(queued.product_id, queued.model).job_id(Stage.INFER)
    deadline = time.monotonic() + 60
    while True:  # the first attempt finds no server; a retry is scheduled
        job = Job.fetch(infer, connection=pipeline.redis)
        if job.meta.get("cause") and job.get_status() == JobStatus.SCHEDULED:
            break
        assert time.monotonic() < deadline, pipeline.logs()
        time.sleep(0.1)
    cause = job.meta["cause"]
    assert cause.startswith("transient: BackendUnavailableError: "), cause
    assert url in cause and repr(MODEL) in cause, cause
    assert pipeline.items() == [] and not (pipeline.assets / "landcover").exists()

    log = tmp_path / "tritonserver.log"
    server = start_server(repo, layout, tmp_path / "triton", grpc_port=grpc_port,
                          http_port=http_port, log_path=log, ort_threads=1)
    try:
        wait_ready(url, server, timeout_s=60, log_path=log)
        try:
            result = wait_for(queued.job_id, connection=pipeline.redis, timeout_s=90)
        except (TimeoutError, RuntimeError) as exc:
            raise AssertionError(f"{exc}\n{pipeline.logs()}") from exc
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    job = Job.fetch(infer, connection=pipeline.redis)
    assert job.meta["attempts"] >= 2
    assert_published_once(pipeline, [result["item_id"]])
    status = pipeline.status()
    assert status["stages"] == all_done(1) and status["published_last_hour"] == 1
