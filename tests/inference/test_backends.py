"""Embedded ONNX Runtime and a real Triton server give the same class maps; clear errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

from inference.backends import OnnxRuntimeBackend, OpenVinoBackend, open_backend
from inference.errors import BackendUnavailableError, ModelNotFoundError
from inference.run import run_model
from inference.settings import InferenceSettings
from inference.triton_backend import TritonBackend
from infra.ports import free_port
from tests.inference.conftest import TritonFixture


def _scene(height: int, width: int, seed: int = 3) -> np.ndarray:
    """Reflectances spread over every rule of the spectral model."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 0.6, size=(4, height, width)).astype(np.float32)


def _settings(backend: str, url: str = "") -> InferenceSettings:
    return InferenceSettings(_env_file=None, backend=backend, triton_url=url, window_size=64,
                             window_overlap=8, batch_size=3, ort_threads=1)


def test_both_backends_give_identical_class_maps(triton: TritonFixture) -> None:
    model = triton.repo.resolve("clc-spectral")
    scene = _scene(150, 170)

    def read(window):
        rows, cols = window.toslices()
        return scene[:, rows, cols], np.ones((window.height, window.width), bool)

    maps = {b: run_model(read, 150, 170, model, _settings(b, triton.url))
            for b in ("onnxruntime", "triton")}
    np.testing.assert_array_equal(maps["onnxruntime"].classes, maps["triton"].classes)
    np.testing.assert_array_equal(maps["onnxruntime"].confidence, maps["triton"].confidence)
    assert len(np.unique(maps["triton"].classes)) >= 5  # a real mix, not one class


def test_triton_batches_of_any_size_match_onnxruntime(triton: TritonFixture) -> None:
    model = triton.repo.resolve("cloud-scl:1")
    backend = open_backend(model, _settings("triton", triton.url))
    local = OnnxRuntimeBackend(model.onnx_path, threads=1)
    for n in (1, 5):
        batch = np.random.default_rng(n).integers(0, 12, (n, 1, 32, 48)).astype(np.float32)
        np.testing.assert_array_equal(backend.predict(batch), local.predict(batch))


def test_triton_runs_the_real_model_with_openvino_as_in_process(triton: TritonFixture) -> None:
    """clc-dynamicworld is served by OpenVINO on both sides (``model_runtimes``): Triton's
    answer for a batch of two 128 px windows is the in-process one to the bit, and its classes
    are those of ONNX Runtime on the same graph (the runtimes differ by float rounding only)."""
    model = triton.repo.resolve("clc-dynamicworld")
    batch = np.random.default_rng(5).uniform(0.02, 0.4, (2, 9, 128, 128)).astype(np.float32)
    served = open_backend(model, _settings("triton", triton.url)).predict(batch)
    local = OpenVinoBackend(model.onnx_path, threads=1).predict(batch)
    np.testing.assert_array_equal(served, local)  # ONNX Runtime differs by up to ~1e-6
    ort_classes = OnnxRuntimeBackend(model.onnx_path, threads=1).predict(batch).argmax(axis=1)
    assert (served.argmax(axis=1) == ort_classes).mean() >= 0.999


def test_missing_model_and_version_are_named(triton: TritonFixture) -> None:
    batch = np.zeros((1, 4, 8, 8), np.float32)
    with pytest.raises(ModelNotFoundError, match=r"'clc-unknown'.*127\.0\.0\.1"):
        TritonBackend(triton.url, "clc-unknown", input_name="reflectance",
                      output_name="probabilities").predict(batch)
    with pytest.raises(ModelNotFoundError, match="'clc-spectral' version 9"):
        TritonBackend(triton.url, "clc-spectral", "9", input_name="reflectance",
                      output_name="probabilities").predict(batch)


def test_server_down_is_a_clear_unavailable_error() -> None:
    url = f"127.0.0.1:{free_port()}"  # nothing listens there
    backend = TritonBackend(url, "clc-spectral", input_name="reflectance",
                            output_name="probabilities", retries=2, backoff_s=0.01,
                            timeout_s=2)
    with pytest.raises(BackendUnavailableError, match=rf"{url}.*after 3 tries"):
        backend.predict(np.zeros((1, 4, 8, 8), np.float32))


def test_client_is_recreated_after_fork(triton: TritonFixture) -> None:
    model = triton.repo.resolve("clc-spectral")
    backend = open_backend(model, _settings("triton", triton.url))
    batch = _scene(16, 16)[None]
    expected = backend.predict(batch)  # the parent now holds a channel
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child (an RQ work horse) must get its own channel, and an answer
        ok = np.array_equal(backend.predict(batch), expected)
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert np.array_equal(backend.predict(batch), expected)  # the parent's channel still works


@pytest.mark.parametrize("ref", ["ukis-csmask-4b-l2a:1", "s2cloudless:1", "clc-spectral:2",
                                 "clc-dynamicworld:1"])
def test_triton_serves_the_packaged_and_new_models(triton: TritonFixture, ref: str) -> None:
    model = triton.repo.resolve(ref)
    spec = model.spec
    batch = np.random.default_rng(9).uniform(0, 0.6, (2, len(spec.input_bands), 64, 96))
    batch = spec.prepare(batch.astype(np.float32))
    served = open_backend(model, _settings("triton", triton.url)).predict(batch)
    local = OnnxRuntimeBackend(model.onnx_path, threads=1).predict(batch)
    np.testing.assert_array_equal(served.argmax(axis=1), local.argmax(axis=1))
    np.testing.assert_allclose(served, local, atol=1e-5)
