"""The spectral reference model, run by the embedded backend from the repository's file."""

from pathlib import Path

import numpy as np
import pytest

from catalog_schemas import clc
from inference.backends import OnnxRuntimeBackend
from inference.errors import ModelNotFoundError
from inference.repository import ModelRepository

# B02, B03, B04, B08 surface reflectance of typical surfaces -> the CLC class expected.
SIGNATURES = {
    512: (0.06, 0.05, 0.03, 0.02),
    311: (0.03, 0.06, 0.03, 0.40),
    312: (0.02, 0.04, 0.02, 0.25),
    231: (0.04, 0.07, 0.05, 0.30),
    211: (0.07, 0.09, 0.10, 0.22),
    112: (0.10, 0.11, 0.12, 0.16),
    335: (0.85, 0.83, 0.80, 0.70),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> ModelRepository:
    return ModelRepository(tmp_path_factory.mktemp("models"))


def _predict(repo: ModelRepository, pixels: np.ndarray) -> np.ndarray:
    backend = OnnxRuntimeBackend(repo.resolve("clc-spectral").onnx_path, threads=1)
    batch = pixels.T.reshape(1, 4, 1, -1).astype(np.float32)
    return backend.predict(batch)[0, :, 0, :]  # [44, n]


def test_each_signature_gets_its_class(repo: ModelRepository) -> None:
    codes = list(SIGNATURES)
    probs = _predict(repo, np.array([SIGNATURES[c] for c in codes]))
    predicted = [clc.by_grid_code(g + 1).clc_code for g in probs.argmax(axis=0)]
    assert predicted == codes
    assert probs.shape[0] == 44
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    assert (probs.max(axis=0) > 0.8).all()


def test_confidence_drops_at_a_threshold(repo: ModelRepository) -> None:
    # NDVI exactly 0.55 sits on the arable/pasture split: two classes share the probability.
    nir, red = 0.31, 0.31 * (1 - 0.55) / (1 + 0.55)
    probs = _predict(repo, np.array([(0.04, 0.07, red, nir), SIGNATURES[231]]))
    assert probs[:, 0].max() < 0.6
    assert probs[:, 1].max() > 0.9


def test_repository_layout_and_resolution(repo: ModelRepository) -> None:
    model = repo.resolve("clc-spectral:1")
    assert model.onnx_path == repo.root / "clc-spectral" / "1" / "model.onnx"
    config = (repo.root / "clc-spectral" / "config.pbtxt").read_text()
    # Triton owns the batch axis (max_batch_size > 0): dims leave it out.
    assert 'backend: "onnxruntime"' in config and "dims: [44, -1, -1]" in config
    assert "max_batch_size: 16" in config and "dynamic_batching" in config
    assert model.spec.input_bands == ["B02", "B03", "B04", "B08"]
    assert model.spec.output_classes[40] == 512  # channel = grid code - 1
    with pytest.raises(ModelNotFoundError, match="no version '9'"):
        repo.resolve("clc-spectral:9")
    with pytest.raises(ModelNotFoundError, match="'unet-clc' is not in the repository"):
        repo.resolve("unet-clc")


def test_reference_model_is_deterministic(tmp_path: Path, repo: ModelRepository) -> None:
    other = ModelRepository(tmp_path).resolve("clc-spectral")
    assert other.onnx_path.read_bytes() == repo.resolve("clc-spectral").onnx_path.read_bytes()


# Typical summer spectra of the classes version 2 adds.
V2_SIGNATURES = {
    331: (0.20, 0.26, 0.32, 0.38),  # sand: bright, red above blue, hardly any NDVI
    332: (0.22, 0.23, 0.24, 0.28),  # grey rock: bright, flat spectrum
    333: (0.14, 0.17, 0.20, 0.32),  # sparse vegetation: a little green over bright ground
}


def test_version_2_adds_bare_and_sparse_classes_and_keeps_the_others(
        repo: ModelRepository) -> None:
    backend = OnnxRuntimeBackend(repo.resolve("clc-spectral:2").onnx_path, threads=1)
    signatures = {**SIGNATURES, **V2_SIGNATURES}
    codes = list(signatures)
    pixels = np.array([signatures[c] for c in codes])
    probs = backend.predict(pixels.T.reshape(1, 4, 1, -1).astype(np.float32))[0, :, 0, :]
    predicted = [clc.by_grid_code(g + 1).clc_code for g in probs.argmax(axis=0)]
    assert predicted == codes
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    # Version 1 calls all three of them something else: the split is new information.
    v1 = _predict(repo, np.array([V2_SIGNATURES[c] for c in V2_SIGNATURES]))
    assert not {clc.by_grid_code(g + 1).clc_code for g in v1.argmax(axis=0)} & {331, 332, 333}
