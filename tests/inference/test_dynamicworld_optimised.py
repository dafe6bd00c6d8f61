"""clc-dynamicworld's optimisations keep the classes of the network as first converted.

Every optimisation that is served (issue 20; docs/benchmarks.md "clc-dynamicworld on 2 CPU
cores") must keep the arg-max CLC class of >= 99 % of the pixels of the real BigEarthNet
patches the model was never tuned on (every source but ``evaluation.bigearthnet.TUNING_SOURCE``)
against the baseline: the wrapped network as converted (its own ``Tanh(Softplus(x))`` Mish
and antialiased Resize) in ONNX Runtime, the served model run the way the pipeline runs it
(``open_backend``), with each in-process runtime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.bigearthnet import Atmosphere, split_by_source
from inference import dynamicworld as dw
from inference.backends import Backend, OnnxRuntimeBackend, OpenVinoBackend, open_backend
from inference.errors import InferenceError
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


def _as_converted(folder: Path) -> Path:
    path = folder / "as-converted.onnx"
    path.write_bytes(dw.wrap(dw.network(), fast_mish=False, conv_downsample=False)
                     .SerializeToString())
    return path


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_served_model_keeps_the_converted_networks_classes(held_out: np.ndarray,
                                                            tmp_path: Path, runtime: str) -> None:
    settings = InferenceSettings(_env_file=None, model_repository=built(
        tmp_path / "models", "clc-dynamicworld"),
        model_runtimes={"clc-dynamicworld": runtime})
    served = ModelRepository.from_settings(settings).resolve("clc-dynamicworld")
    assert len(held_out) >= 40  # 44 patches of three sources at the time of writing
    backend = open_backend(served, settings)
    assert isinstance(backend, OpenVinoBackend if runtime == "openvino" else OnnxRuntimeBackend)
    got = _classes(backend, held_out)
    expected = _classes(OnnxRuntimeBackend(_as_converted(tmp_path)), held_out)
    assert (got == expected).mean() >= MIN_AGREEMENT


def test_the_antialiased_downsampling_is_the_same_as_a_convolution(held_out: np.ndarray,
                                                                   tmp_path: Path) -> None:
    """The served graph's Pad + depthwise Conv computes ONNX Runtime's antialiased Resize
    (float rounding apart), on the real patches' 120 px and on a 512 px window."""
    rewritten = tmp_path / "conv.onnx"
    rewritten.write_bytes(dw.wrap(dw.network(), fast_mish=False).SerializeToString())
    window = np.random.default_rng(3).uniform(0.02, 0.4, (1, 9, 512, 512)).astype(np.float32)
    for x in (held_out[:8], window):
        a = OnnxRuntimeBackend(_as_converted(tmp_path)).predict(x)
        b = OnnxRuntimeBackend(rewritten).predict(x)
        assert np.abs(a - b).max() < 1e-4


def test_openvino_refuses_an_antialiased_resize(tmp_path: Path) -> None:
    """OpenVINO would run the graph as converted without its antialiasing (86 % of the classes
    kept): such a file is refused, naming the node and the fix."""
    with pytest.raises(InferenceError, match="antialiased.*earthsig models build"):
        OpenVinoBackend(_as_converted(tmp_path))
