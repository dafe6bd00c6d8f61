"""The packaged cloud models: s2cloudless reproduces its own reference on a real L1C scene;
the ukis-csmask copies answer what the package's networks answer, and agree with s2cloudless
on that real scene."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from catalog_schemas import cloudmask as cm
from evaluation.pixels import evaluate
from inference import s2cloudless
from inference.backends import OnnxRuntimeBackend
from inference.packaged import UKIS, package_dir
from inference.repository import ModelRepository
from tests.models import built

# Made by `make install` from the s2cloudless 1.2.2 sdist (infra/make/inference.mk).
REFERENCE = Path(__file__).parents[2] / ".earthsig/testdata/s2cloudless/input_arrays.npz"


@pytest.fixture(scope="module")
def real_scene() -> dict[str, np.ndarray]:
    if not REFERENCE.exists():
        pytest.fail(f"{REFERENCE} is missing: run `make install` (s2cloudless test data)")
    with np.load(REFERENCE) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> ModelRepository:
    return ModelRepository(built(tmp_path_factory.mktemp("cloud-models"), "s2cloudless",
                                 "ukis-csmask-6b-l2a", "ukis-csmask-4b-l1c"))


def _bands(scene: dict[str, np.ndarray], names: list[str] | tuple[str, ...]) -> np.ndarray:
    """[1, bands, H, W] of the 13-band L1C image, in the order ``names`` gives."""
    idx = [s2cloudless.L1C_ORDER.index(b) for b in names]
    return np.ascontiguousarray(np.moveaxis(scene["s2_im"][..., idx], -1, 1))


def test_lightgbm_path_reproduces_the_reference(real_scene: dict[str, np.ndarray]) -> None:
    x = real_scene["s2_im"][..., list(s2cloudless.BAND_INDEX)]
    probs = s2cloudless.probabilities(x)
    assert np.isclose(probs, real_scene["cl_probs"]).all()
    mask = s2cloudless.cloud_mask(probs[0])
    np.testing.assert_array_equal(mask, real_scene["cl_mask"][0])
    assert 0.2 < mask.mean() < 0.8  # a real mix of cloud and clear, not a trivial mask


def test_onnx_model_in_the_repository_reproduces_the_reference(
        real_scene: dict[str, np.ndarray], models: ModelRepository) -> None:
    model = models.resolve("s2cloudless")
    assert model.spec.input_bands == list(s2cloudless.BANDS)
    crop = (slice(None), slice(None), slice(300, 556), slice(0, 256))
    x = model.spec.prepare(_bands(real_scene, model.spec.input_bands)[crop])
    out = OnnxRuntimeBackend(model.onnx_path, threads=2).predict(x)
    reference = real_scene["cl_probs"][:, 300:556, 0:256]
    np.testing.assert_allclose(out[:, 1], reference, atol=1e-6)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(s2cloudless.cloud_mask(out[0, 1]),
                                  s2cloudless.cloud_mask(reference[0]))


def test_ukis_copy_answers_what_the_package_network_answers(models: ModelRepository) -> None:
    model = models.resolve("ukis-csmask-6b-l2a")
    assert model.spec.input_bands == ["B02", "B03", "B04", "B08", "B11", "B12"]
    x = np.random.default_rng(4).uniform(0, 0.5, (1, 6, 256, 256)).astype(np.float32)
    ours = OnnxRuntimeBackend(model.onnx_path, threads=2).predict(model.spec.prepare(x))
    original = ort.InferenceSession(str(package_dir(UKIS) / "model_6b_l2a.onnx"),
                                    providers=["CPUExecutionProvider"])
    scaling = model.spec.value_scaling or []
    mean = np.array([s["mean"] for s in scaling], np.float32)[:, None, None]
    std = np.array([s["stddev"] for s in scaling], np.float32)[:, None, None]
    logits = original.run(None, {"input": (x - mean) / std})[0]
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    assert not (model.onnx_path.parent / "model_6b_l2a.onnx").exists()


def test_ukis_l1c_finds_the_clouds_of_the_real_scene(
        real_scene: dict[str, np.ndarray], models: ModelRepository) -> None:
    model = models.resolve("ukis-csmask-4b-l1c")
    x = model.spec.prepare(_bands(real_scene, model.spec.input_bands)[:, :, 0:512, 0:512])
    probs = OnnxRuntimeBackend(model.onnx_path, threads=2).predict(x)[0]
    predicted = np.asarray(model.spec.raster_values)[probs.argmax(axis=0)]
    predicted[predicted == cm.SHADOW] = cm.CLEAR  # s2cloudless knows no shadows
    truth = np.where(real_scene["cl_mask"][0, 0:512, 0:512] == 1, cm.CLOUD, cm.CLEAR)
    ev = evaluate(truth.astype(np.uint8), predicted)
    # Two independent detectors on real pixels: they agree on most, not all.
    assert ev.pixel_accuracy > 0.8 and ev.by_value(cm.CLOUD).iou > 0.6


def test_booster_per_block_is_exact_where_blocks_are_uniform(
        real_scene: dict[str, np.ndarray]) -> None:
    """On a real scene repeated over 2 x 2 blocks (as 20 m and 60 m bands are at 10 m) the
    per-block booster (all trees) gives exactly s2cloudless's per-pixel mask."""
    x = real_scene["s2_im"][0][..., list(s2cloudless.BAND_INDEX)].astype(np.float32)
    x10 = np.repeat(np.repeat(x, 2, axis=0), 2, axis=1)[:-1, :-1]  # odd sizes too
    fast = s2cloudless.cloud_mask_at_20m(x10, early_stop_margin=None)
    exact = s2cloudless.cloud_mask(s2cloudless.probabilities(x10))
    np.testing.assert_array_equal(fast, exact)
    assert fast.shape == x10.shape[:2] and 0.2 < fast.mean() < 0.8


def test_early_stopping_keeps_the_mask_of_the_real_scene(
        real_scene: dict[str, np.ndarray]) -> None:
    """LightGBM's prediction early stopping (the default of the per-block mask) changes the
    probabilities of clear-cut pixels only: the mask stays within 0.1 % of all trees'."""
    x = real_scene["s2_im"][0][..., list(s2cloudless.BAND_INDEX)].astype(np.float32)
    full = s2cloudless.probabilities(x)
    stopped = s2cloudless.probabilities(x, s2cloudless.EARLY_STOP_MARGIN)
    changed = full != stopped
    assert changed.mean() > 0.5  # early stopping did act on most pixels...
    # ...and where it stopped, all trees would (almost always) have decided the same side.
    side = (full > s2cloudless.THRESHOLD) == (stopped > s2cloudless.THRESHOLD)
    assert side[changed].mean() > 0.999
    x10 = np.repeat(np.repeat(x, 2, axis=0), 2, axis=1)
    fast = s2cloudless.cloud_mask_at_20m(x10)
    exact = s2cloudless.cloud_mask_at_20m(x10, early_stop_margin=None)
    assert (fast == exact).mean() > 0.999
    assert 0.2 < fast.mean() < 0.8
