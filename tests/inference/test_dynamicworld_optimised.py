"""clc-dynamicworld's optimisations keep the classes of the network as first converted.

Every optimisation that is served (issue 20; docs/benchmarks.md "clc-dynamicworld on 2 CPU
cores") must keep the arg-max CLC class of >= 99 % of the pixels of the real BigEarthNet
patches the model was never tuned on (every source but ``evaluation.bigearthnet.TUNING_SOURCE``)
against the baseline: the wrapped network as converted (its own ``Tanh(Softplus(x))`` Mish),
both run the way the pipeline runs a model (``open_backend``: ONNX Runtime, ORT_ENABLE_ALL).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.bigearthnet import Atmosphere, split_by_source
from inference import dynamicworld as dw
from inference.backends import Backend, OnnxRuntimeBackend, open_backend
from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from ingest.clouds.toa_emulation import path_reflectance
from samples.real_patches import DEFAULT_ROOT, load_patches
from tests.models import built

ROOT = Path(__file__).parents[2] / DEFAULT_ROOT
MIN_AGREEMENT = 0.99


@pytest.fixture(scope="module")
def held_out() -> np.ndarray:
    """[N, 9, 120, 120] model inputs of the held-out real patches (L2A + path reflectance)."""
    if not ROOT.exists():
        pytest.skip("no real BigEarthNet patches: `make real-patches`")
    _, patches = split_by_source(load_patches(ROOT))
    path = path_reflectance(dw.BANDS, **vars(Atmosphere()))
    return np.stack([p.reflectance(dw.BANDS) + path[:, None, None] for p in patches]
                    ).astype(np.float32)


def _classes(backend: Backend, x: np.ndarray) -> np.ndarray:
    return np.concatenate([backend.predict(x[i:i + 8]).argmax(axis=1)
                           for i in range(0, len(x), 8)])


def test_served_model_keeps_the_converted_networks_classes(held_out: np.ndarray,
                                                            tmp_path: Path) -> None:
    settings = InferenceSettings(_env_file=None, model_repository=built(
        tmp_path / "models", "clc-dynamicworld"))
    served = ModelRepository.from_settings(settings).resolve("clc-dynamicworld")
    baseline_file = tmp_path / "as-converted.onnx"
    baseline_file.write_bytes(dw.wrap(dw.network(), fast_mish=False).SerializeToString())
    assert len(held_out) >= 40  # 44 patches of three sources at the time of writing
    got = _classes(open_backend(served, settings), held_out)
    expected = _classes(OnnxRuntimeBackend(baseline_file), held_out)
    assert (got == expected).mean() >= MIN_AGREEMENT
