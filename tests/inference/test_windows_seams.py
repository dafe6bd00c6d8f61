"""Seams of windowed inference with the real land-cover model (clc-dynamicworld): a real
L1C scene cut into windows gives the classes of one whole-image run of the model, at the
default overlap; with no overlap the windows' edges show (so the check can fail)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.backends import OnnxRuntimeBackend
from inference.repository import ModelRepository, ResolvedModel
from inference.settings import InferenceSettings
from tests.bench.seams import REAL_SCENE, _classes, real_scene, seam_mask
from tests.models import built

SIZE = 512  # the real scene's square crop; windows of 256 px cut it 2-3 times a side


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> ResolvedModel:
    root = built(tmp_path_factory.mktemp("models"), "clc-dynamicworld")
    return ModelRepository(root).resolve("clc-dynamicworld")


@pytest.fixture(scope="module")
def scene(model: ResolvedModel) -> np.ndarray:
    if not (Path(__file__).parents[2] / REAL_SCENE).exists():
        pytest.fail(f"{REAL_SCENE} is missing: run `make install` (s2cloudless test data)")
    return real_scene(model)


def _agreement(model: ResolvedModel, scene: np.ndarray, size: int, overlap: int
               ) -> tuple[float, float]:
    backend = OnnxRuntimeBackend(model.onnx_path, threads=1)
    whole = _classes(model, backend, scene, SIZE, 0, batch=1)
    cut = _classes(model, backend, scene, size, overlap)
    near = seam_mask(SIZE, size, overlap)[:, None] | seam_mask(SIZE, size, overlap)[None, :]
    same = cut == whole
    return float(same.mean()), float(same[near].mean())


def test_default_overlap_leaves_no_seam(model: ResolvedModel, scene: np.ndarray) -> None:
    overlap = InferenceSettings(_env_file=None).window_overlap
    overall, at_seams = _agreement(model, scene, 256, overlap)
    # Measured (docs/benchmarks.md): 32 px, 99.99 % overall, 99.96 % within 16 px of a cut.
    assert overall >= 0.999 and at_seams >= 0.995


def test_without_overlap_the_seams_show(model: ResolvedModel, scene: np.ndarray) -> None:
    overall, at_seams = _agreement(model, scene, 256, 0)
    assert at_seams < 0.97  # the model's context reaches ~20 px: edges see zero padding
