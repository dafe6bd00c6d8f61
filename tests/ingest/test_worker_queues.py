"""``earthsig worker --queues``: stage names become the prefixed Redis queues; typos are refused."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from infra.commands.processing import worker
from ingest.settings import IngestSettings
from ingest.stages import worker_queue_names


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
