"""One real Triton server per test session, on a repository of the reference models.

The server is the ``tritonserver`` of the nvidia-pytriton wheel, run from the Triton venv
that ``make install`` creates (infra/make/inference.mk).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from inference.patches import Patches, read_patches
from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from inference.training import export, train
from inference.triton_serve import TritonLayout, start_server, wait_ready
from infra.ports import free_port
from samples.patches import write_generated_patches
from tests.models import built


@dataclass(frozen=True)
class TritonFixture:
    url: str
    repo: ModelRepository


# A tiny U-Net trained for a few steps on generated patches (tests/inference/test_unet.py).
UNET_CLASSES = [512, 311, 231, 211, 112, 312, 335]


@pytest.fixture(scope="session")
def unet_patches(tmp_path_factory: pytest.TempPathFactory) -> Patches:
    root = write_generated_patches(tmp_path_factory.mktemp("patches"), 16, size=32)
    return read_patches(root)


@pytest.fixture(scope="session")
def served_repo(tmp_path_factory: pytest.TempPathFactory, unet_patches: Patches
                ) -> ModelRepository:
    repo = ModelRepository(tmp_path_factory.mktemp("served-models"), max_batch_size=8)
    repo.build_all_references()
    # Exported before the server starts, so Triton serves it like any repository model.
    export(train(unet_patches, UNET_CLASSES, steps=4, width=4, depth=2, batch=8), repo)
    return repo


@pytest.fixture(scope="session")
def triton(served_repo: ModelRepository, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[TritonFixture]:
    settings = InferenceSettings(_env_file=None)
    layout = TritonLayout(settings.triton_venv.resolve())
    state = tmp_path_factory.mktemp("triton")
    grpc_port, http_port = free_port(), free_port()
    log = state / "tritonserver.log"
    process = start_server(served_repo, layout, state, grpc_port=grpc_port,
                           http_port=http_port, log_path=log, ort_threads=1,
                           runtimes=dict(settings.model_runtimes))
    url = f"127.0.0.1:{grpc_port}"
    try:
        wait_ready(url, process, timeout_s=120, log_path=log)
        yield TritonFixture(url=url, repo=served_repo)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except Exception:  # a hung server must not hang the suite
            process.kill()
            process.wait()


@pytest.fixture
def repo(tmp_path: Path) -> ModelRepository:
    return ModelRepository(built(tmp_path / "models", "clc-spectral", "cloud-scl"))
