"""``earthsig worker --queues``: stage names become the prefixed Redis queues; typos are refused."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from redis import Redis
from rq import Queue, Worker
from rq.exceptions import StopRequested

from infra.commands.processing import worker
from ingest.orchestration import worker as worker_module
from ingest.orchestration.stages import worker_queue_names
from ingest.orchestration.worker import PipelineWorker
from ingest.settings import IngestSettings


def test_stage_names_get_the_queue_prefix() -> None:
    settings = IngestSettings(_env_file=None, queue_prefix="eu-")
    assert worker_queue_names(["infer", "discover"], settings) == ["eu-infer", "eu-discover"]
    assert worker_queue_names(["eu-publish"], settings) == ["eu-publish"]  # already prefixed


def test_without_a_prefix_names_are_the_queues() -> None:
    assert worker_queue_names(["fetch"], IngestSettings(_env_file=None)) == ["fetch"]


@pytest.mark.parametrize("queue", ["inferr", "eu-eu-infer", "", "default"])
def test_unknown_queues_are_refused_by_name(queue: str) -> None:
    with pytest.raises(ValueError, match=f"unknown queue '{queue}'.*fetch, discover"):
        worker_queue_names([queue], IngestSettings(_env_file=None, queue_prefix="eu-"))


def test_the_command_refuses_an_unknown_queue_before_starting() -> None:
    result = CliRunner().invoke(worker, ["--queues", "infer,inferr", "--burst"])
    assert result.exit_code == 2
    assert "unknown queue 'inferr'" in result.output


def test_a_stop_request_during_the_sweep_stops_the_worker(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """RQ answers SIGTERM by raising StopRequested wherever the worker is: in the chain sweep
    of its maintenance it must not be taken for a failed sweep (the worker then ran on)."""
    connection = Redis.from_url(redis_url)
    worker = PipelineWorker([Queue("infer", connection=connection)], connection=connection)

    def interrupted(*_: object) -> None:
        raise StopRequested

    monkeypatch.setattr(worker_module, "sweep_chains", interrupted)
    with pytest.raises(StopRequested):
        worker.run_maintenance_tasks()
    calls: list[str] = []

    def failing(*_: object) -> None:
        calls.append("sweep")
        raise RuntimeError("a bug in the sweep")

    monkeypatch.setattr(worker_module, "sweep_chains", failing)
    monkeypatch.setattr(Worker, "run_maintenance_tasks", lambda self: calls.append("rq"))
    worker.run_maintenance_tasks()  # any other failure of the sweep is logged, work goes on
    assert calls == ["sweep", "rq"]
