"""The spectral reference model, run by the embedded backend from the repository's file."""

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from rasterio.windows import Window

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


def _predict(repo: ModelRepository, pixels: np.ndarray, ref: str = "clc-spectral"
             ) -> tuple[np.ndarray, list[int]]:
    """[channels, n] probabilities of ``pixels`` and the CLC code of each channel."""
    model = repo.resolve(ref)
    backend = OnnxRuntimeBackend(model.onnx_path, threads=1)
    batch = pixels.T.reshape(1, 4, 1, -1).astype(np.float32)
    return backend.predict(batch)[0, :, 0, :], model.spec.output_classes


def test_each_signature_gets_its_class(repo: ModelRepository) -> None:
    codes = list(SIGNATURES)
    probs, classes = _predict(repo, np.array([SIGNATURES[c] for c in codes]))
    predicted = [classes[i] for i in probs.argmax(axis=0)]
    assert predicted == codes
    # One channel per class any version reaches, in grid-code order (the MLM says which).
    assert classes == [112, 211, 231, 311, 312, 331, 332, 333, 335, 512]
    assert probs.shape[0] == 10 and (probs[[5, 6, 7]] == 0).all()  # v1 reaches 7 of them
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    assert (probs.max(axis=0) > 0.8).all()


def test_confidence_drops_at_a_threshold(repo: ModelRepository) -> None:
    # NDVI exactly 0.55 sits on the arable/pasture split: two classes share the probability.
    nir, red = 0.31, 0.31 * (1 - 0.55) / (1 + 0.55)
    probs, _ = _predict(repo, np.array([(0.04, 0.07, red, nir), SIGNATURES[231]]))
    assert probs[:, 0].max() < 0.6
    assert probs[:, 1].max() > 0.9


def test_repository_layout_and_resolution(repo: ModelRepository) -> None:
    model = repo.resolve("clc-spectral:1")
    assert model.onnx_path == repo.root / "clc-spectral" / "1" / "model.onnx"
    config = (repo.root / "clc-spectral" / "config.pbtxt").read_text()
    # Triton owns the batch axis (max_batch_size > 0): dims leave it out.
    assert 'backend: "onnxruntime"' in config and "dims: [10, -1, -1]" in config
    assert "max_batch_size: 16" in config and "dynamic_batching" in config
    assert model.spec.input_bands == ["B02", "B03", "B04", "B08"]
    assert model.spec.output_classes[-1] == 512  # the leaves, in grid-code order
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
    signatures = {**SIGNATURES, **V2_SIGNATURES}
    codes = list(signatures)
    probs, classes = _predict(repo, np.array([signatures[c] for c in codes]), "clc-spectral:2")
    predicted = [classes[i] for i in probs.argmax(axis=0)]
    assert predicted == codes and len(classes) == 10
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    # Version 1 calls all three of them something else: the split is new information.
    v1, v1_classes = _predict(repo, np.array([V2_SIGNATURES[c] for c in V2_SIGNATURES]))
    assert not {v1_classes[i] for i in v1.argmax(axis=0)} & {331, 332, 333}


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("blend", ["centre", "weighted"])
def test_leaf_channels_give_the_maps_of_the_44_channel_layout(
        tmp_path: Path, repo: ModelRepository, version: str, blend: str) -> None:
    """The models emit only their reachable classes: same classes and confidence, pixel for
    pixel, as the former 44-channel graph on a generated scene (clouds, every class)."""
    import onnx

    from inference.spectral import build_spectral_model
    from inference.spectral_v2 import build_spectral_v2_model
    from inference.windows import segment
    from ingest.samples import generate_scene

    scene = generate_scene("T31TCJ", date(2024, 7, 1), 700, cloud_cover=25)
    bands = np.stack([scene.reflectance(b) for b in ("B02", "B03", "B04", "B08")])
    valid = np.ones(bands.shape[1:], bool)
    valid[:40, :300] = False

    def read(window: Window) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = window.toslices()
        return bands[:, rows, cols], valid[rows, cols]

    model = repo.resolve(f"clc-spectral:{version}")
    legacy = tmp_path / "legacy.onnx"
    build = build_spectral_model if version == "1" else build_spectral_v2_model
    onnx.save(build(all_clc_channels=True), legacy)
    options = {"window_size": 256, "overlap": 32, "blend": blend, "batch_size": 3}
    compact = segment(read, 700, 700, OnnxRuntimeBackend(model.onnx_path, threads=1),
                      values=model.spec.raster_values, **options)
    wide = segment(read, 700, 700, OnnxRuntimeBackend(legacy, threads=1), **options)
    np.testing.assert_array_equal(compact.classes, wide.classes)
    np.testing.assert_array_equal(compact.confidence, wide.confidence)
    # Not a vacuous equality: several classes, and the invalid corner stays 0.
    assert len(np.unique(compact.classes)) >= 5 and (compact.classes[:40, :300] == 0).all()
    assert {clc.by_grid_code(int(g)).clc_code for g in np.unique(compact.classes) if g} <= set(
        model.spec.output_classes)
