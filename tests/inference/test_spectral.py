"""The spectral reference model, run by the embedded backend from the repository's file."""

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from rasterio.windows import Window

from catalog_schemas import clc
from inference.backends import OnnxRuntimeBackend
from inference.errors import ModelNotFoundError
from inference.reference import build
from inference.repository import ModelRepository
from tests.inference.conftest import TritonFixture
from tests.models import built

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
    return ModelRepository(built(tmp_path_factory.mktemp("models")))


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
    other = ModelRepository(built(tmp_path)).resolve("clc-spectral")
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
    from samples import generate_scene

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


# Version 3 reads B12 too: B02, B03, B04, B08, B12 of typical surfaces (the generator's).
V3_SIGNATURES = {
    512: (0.06, 0.05, 0.03, 0.02, 0.005),
    311: (0.03, 0.06, 0.03, 0.42, 0.09),
    312: (0.02, 0.04, 0.018, 0.24, 0.05),
    231: (0.04, 0.07, 0.05, 0.30, 0.12),
    211: (0.07, 0.09, 0.10, 0.24, 0.20),
    112: (0.10, 0.11, 0.12, 0.15, 0.18),  # dark urban: NBR -0.09
    335: (0.85, 0.83, 0.80, 0.70, 0.06),
    331: (0.20, 0.26, 0.32, 0.38, 0.40),  # bright sand, NIR below SWIR: not a burn (bright)
    332: (0.22, 0.23, 0.24, 0.28, 0.30),
    333: (0.14, 0.17, 0.20, 0.32, 0.30),
    334: (0.03, 0.04, 0.06, 0.08, 0.20),  # fresh burn: dark, NBR -0.43
}


def _predict_v3(repo: ModelRepository, pixels: np.ndarray) -> tuple[np.ndarray, list[int]]:
    model = repo.resolve("clc-spectral:3")
    batch = pixels.T.reshape(1, 5, 1, -1).astype(np.float32)
    return (OnnxRuntimeBackend(model.onnx_path, threads=1).predict(batch)[0, :, 0, :],
            model.spec.output_classes)


def test_version_3_adds_burnt_areas_from_the_burn_ratio(repo: ModelRepository) -> None:
    codes = list(V3_SIGNATURES)
    probs, classes = _predict_v3(repo, np.array([V3_SIGNATURES[c] for c in codes]))
    assert [classes[i] for i in probs.argmax(axis=0)] == codes
    assert classes == [112, 211, 231, 311, 312, 331, 332, 333, 334, 335, 512]
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    assert probs[classes.index(334), codes.index(334)] > 0.95
    spec = repo.resolve("clc-spectral:3").spec
    assert spec.input_bands == ["B02", "B03", "B04", "B08", "B12"]
    # Versions 1 and 2 call the burn dark urban fabric: the SWIR band is the new information.
    for version in ("1", "2"):
        p, c = _predict(repo, np.array([V3_SIGNATURES[334][:4]]), f"clc-spectral:{version}")
        assert c[int(p[:, 0].argmax())] == 112


def test_version_3_tells_a_burn_from_water_and_dark_urban_only_by_swir(
        repo: ModelRepository) -> None:
    """The same visible and NIR with SWIR-2 raised step by step: urban until NBR < -0.25."""
    blue, green, red, nir = 0.05, 0.06, 0.07, 0.09
    swir = np.array([0.05, 0.10, 0.13, 0.16, 0.20, 0.30])
    pixels = np.array([(blue, green, red, nir, s) for s in swir])
    probs, classes = _predict_v3(repo, pixels)
    predicted = [classes[i] for i in probs.argmax(axis=0)]
    nbr = (nir - swir) / (nir + swir)
    assert predicted == [334 if r < -0.25 else 112 for r in nbr]
    assert predicted == [112, 112, 112, 334, 334, 334]
    # Water (NDWI > 0.1) stays water whatever its SWIR: its NIR is as low as a burn's.
    probs, classes = _predict_v3(repo, np.array([(0.06, 0.05, 0.03, 0.02, s) for s in swir]))
    assert {classes[i] for i in probs.argmax(axis=0)} == {512}
    # A bright pixel with NIR below SWIR-2 (dry sand, rock) is not burnt: a burn is dark.
    probs, classes = _predict_v3(repo, np.array([(0.20, 0.22, 0.25, 0.20, 0.40)]))
    assert classes[int(probs[:, 0].argmax())] != 334


def test_generator_burn_spectrum_lies_inside_version_3s_intervals() -> None:
    """At the extremes of the generator's variation (parcel gain per band, 4 sigma of pixel
    noise) the planted burn stays dark and below the NBR threshold with margin, and the urban
    fabric above it: so the scenes with a planted fire have an exact answer for version 3."""
    from inference.spectral_v2 import DARK
    from inference.spectral_v3 import BURN_NBR
    from samples.changes import CONVERSION_SIGNATURES
    from samples.spectra import PIXEL_NOISE, REGION_BAND_JITTER, SIGNATURES

    spread = (1 + REGION_BAND_JITTER) * (1 + 4 * PIXEL_NOISE)
    blue, green, red, nir, _, swir22 = CONVERSION_SIGNATURES[334]
    worst_burn = (nir * spread - swir22 / spread) / (nir * spread + swir22 / spread)
    assert worst_burn < BURN_NBR[1] - 0.05
    assert (blue + green + red) / 3 * 1.1 * spread < DARK[1] - 0.05
    *_, nir, _, swir22 = SIGNATURES[112]
    worst_urban = (nir / spread - swir22 * spread) / (nir / spread + swir22 * spread)
    assert worst_urban > BURN_NBR[1] + 0.02


def test_version_3_maps_a_planted_burn(tmp_path: Path, repo: ModelRepository) -> None:
    """Pixel IoU of 334 on a generated scene with a burnt forest (read through the product
    reader, B12 interpolated from 20 m), and version 2's map everywhere else."""
    from catalog_schemas import cloudmask as cm
    from evaluation.pixels import evaluate
    from evaluation.scenes import evaluate_scene, load_scene
    from inference.run import run_model
    from inference.settings import InferenceSettings
    from samples import make_sample_product
    from samples.changes import Conversion

    burn = Conversion((128, 384), (96, 352), 334, (311, 312))
    product = make_sample_product("32TQM", date(2024, 7, 15), 512, tmp_path, seed=7,
                                  cloud_cover=10.0, conversions=(burn,))
    settings = InferenceSettings(_env_file=None, ort_threads=1)
    v3 = evaluate_scene(product.parent, repo.resolve("clc-spectral:3"), settings).evaluation
    burnt = v3.by_value(clc.grid_code_of(334))
    assert burnt.truth_pixels > 5000 and burnt.iou == 1.0
    assert v3.pixel_accuracy == 1.0
    # Version 2 on the same scene: the burn is all urban fabric, the rest the same classes.
    v2_model = repo.resolve("clc-spectral:2")
    scene = load_scene(product.parent, v2_model.spec.input_bands)

    def read(window: Window) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = window.toslices()
        return scene.bands[:, rows, cols], scene.valid[rows, cols]

    v2 = run_model(read, 512, 512, v2_model, settings).classes
    clear = np.isin(scene.cloudmask, (cm.CLEAR, cm.SNOW)) & scene.valid
    is_burnt = scene.truth == clc.grid_code_of(334)
    assert (v2[is_burnt & clear] == clc.grid_code_of(112)).all()
    assert evaluate(scene.truth, v2, clear & ~is_burnt).pixel_accuracy == 1.0


def test_adding_version_3_to_a_repository_of_10_channel_versions(tmp_path: Path) -> None:
    """A repository built before version 3 (versions 1 and 2, 4 bands, 10 channels) gets it
    without a byte of versions 1 and 2 changing; config.pbtxt then serves the versions of the
    shape it states to the ONNX Runtime backend, and all of them, -1 dims, to the Python one."""
    from inference.reference import build
    from inference.repository import triton_config

    repo = ModelRepository(tmp_path)
    for version in ("1", "2"):
        repo.add_version(*build("clc-spectral", version))
    config = (tmp_path / "clc-spectral" / "config.pbtxt").read_text()
    assert "version_policy: { all { } }" in config and "dims: [10, -1, -1]" in config
    before = {p: p.read_bytes() for p in tmp_path.glob("clc-spectral/[12]/*")}
    assert [m.spec.ref for m in repo.build_references(["clc-spectral"], only_missing=True)] \
        == ["clc-spectral:3"]
    assert repo.resolve("clc-spectral:3").spec.version == "3"
    assert repo.versions("clc-spectral") == ["1", "2", "3"]
    assert {p: p.read_bytes() for p in tmp_path.glob("clc-spectral/[12]/*")} == before
    assert repo.resolve("clc-spectral").spec.version == "1"  # the default is unchanged
    config = (tmp_path / "clc-spectral" / "config.pbtxt").read_text()
    assert "version_policy: { specific { versions: [1, 2] } }" in config
    assert "dims: [4, -1, -1]" in config and "dims: [10, -1, -1]" in config
    served = triton_config(repo.specs("clc-spectral"), backend="python")
    assert "version_policy: { all { } }" in served
    assert served.count("dims: [-1, -1, -1]") == 2
    # A model whose versions agree keeps exact dims and serves all of them.
    single = triton_config(build("cloud-scl", "1")[0])
    assert "dims: [1, -1, -1]" in single and "version_policy: { all { } }" in single


def test_triton_serves_versions_of_different_channel_counts(triton: TritonFixture) -> None:
    """One config.pbtxt (-1 band and class dims), the real Python-backend Triton server:
    versions 1 and 2 answer 10 channels, version 3 answers 11, each equal to ONNX Runtime."""
    from inference.backends import open_backend
    from inference.settings import InferenceSettings

    settings = InferenceSettings(_env_file=None, backend="triton", triton_url=triton.url,
                                 ort_threads=1)
    for version, n_bands, n_classes in (("1", 4, 10), ("2", 4, 10), ("3", 5, 11)):
        model = triton.repo.resolve(f"clc-spectral:{version}")
        batch = np.random.default_rng(int(version)).uniform(0, 0.5, (3, n_bands, 24, 40))
        batch = batch.astype(np.float32)
        served = open_backend(model, settings).predict(batch)
        local = OnnxRuntimeBackend(model.onnx_path, threads=1).predict(batch)
        assert served.shape == (3, n_classes, 24, 40) == local.shape
        assert len(model.spec.output_classes) == n_classes
        np.testing.assert_allclose(served, local, atol=1e-6)


# Published reference models: items name them by version, so a version's graph must never
# change (a change is a new version). Pinned when version 3's tree was shared with version 2's.
PUBLISHED_SHA256 = {
    "1": "c3158b262aa4c0644c3c4dd3757e6329520f75203a1e75e4be45751c0c43399e",
    "2": "c10a9f37a76a5a72833347946ed83757c7fbb8942fc85957abe998915f164f23",
    "3": "7215ce51125276945e0016e0bbaf09b3398ce189ca85eda898ad2e6f50b1deb2",
}


@pytest.mark.parametrize("version", sorted(PUBLISHED_SHA256))
def test_published_spectral_graphs_never_change(version: str) -> None:
    _, model = build("clc-spectral", version)
    assert hashlib.sha256(model.SerializeToString()).hexdigest() == PUBLISHED_SHA256[version]
