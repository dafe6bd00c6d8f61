"""IoU, mean IoU and pixel accuracy on hand-made cases, and on a generated labelled scene."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from catalog_schemas import cloudmask as cm
from evaluation.pixels import evaluate
from evaluation.scenes import evaluate_scene, generate_labelled_product, load_scene
from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from tests.models import built


def test_iou_of_a_hand_made_case() -> None:
    truth = np.array([[1, 1, 2, 2],
                      [1, 1, 2, 2],
                      [3, 3, 0, 0]], np.uint8)
    predicted = np.array([[1, 2, 2, 2],
                          [1, 1, 2, 0],
                          [3, 1, 5, 5]], np.uint8)
    ev = evaluate(truth, predicted)
    # class 1: TP 3 (3 of 4 truth), predicted 4 -> union 4 + 4 - 3 = 5
    assert ev.by_value(1).iou == pytest.approx(3 / 5)
    # class 2: truth 4, predicted 4 (3 inside + 1 wrong), TP 3; the 0 counts as wrong
    assert ev.by_value(2).iou == pytest.approx(3 / 5)
    assert ev.by_value(3).iou == pytest.approx(1 / 2)
    # class 5 lies only on nodata truth: not counted at all
    with pytest.raises(KeyError):
        ev.by_value(5)
    assert ev.pixels == 10 and ev.correct == 7
    assert ev.pixel_accuracy == pytest.approx(0.7)
    assert ev.mean_iou == pytest.approx((0.6 + 0.6 + 0.5) / 3)
    assert ev.by_value(2).recall == pytest.approx(3 / 4)


def test_a_class_only_predicted_lowers_the_mean_and_valid_masks_pixels() -> None:
    truth = np.array([[4, 4, 4, 4]], np.uint8)
    predicted = np.array([[4, 4, 7, 7]], np.uint8)
    ev = evaluate(truth, predicted)
    assert ev.by_value(7).iou == 0.0 and ev.by_value(4).iou == pytest.approx(0.5)
    assert ev.mean_iou == pytest.approx(0.25)
    masked = evaluate(truth, predicted, valid=np.array([[True, True, False, False]]))
    assert masked.pixels == 2 and masked.pixel_accuracy == 1.0 and masked.mean_iou == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        evaluate(truth, predicted[:, :2])


@pytest.fixture(scope="module")
def cloudy_scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_labelled_product(160, tmp_path_factory.mktemp("scene"), cloud_cover=30.0)


def _settings() -> InferenceSettings:
    return InferenceSettings(_env_file=None, window_size=64, window_overlap=8, ort_threads=1)


def test_scene_eval_counts_only_clear_pixels(cloudy_scene: Path, tmp_path: Path) -> None:
    model = ModelRepository(built(tmp_path)).resolve("clc-spectral:1")
    result = evaluate_scene(cloudy_scene, model, _settings())
    scene = load_scene(cloudy_scene, ["B02"])
    clear = np.isin(scene.cloudmask, (cm.CLEAR, cm.SNOW)).sum()
    assert 0 < clear < scene.truth.size  # the scene really has clouds
    assert result.evaluation.pixels == clear
    # The generator draws its spectra inside the rule model's intervals (see docs/models.md).
    assert result.evaluation.pixel_accuracy > 0.99


def test_cloud_models_are_scored_against_scl(cloudy_scene: Path, tmp_path: Path) -> None:
    model = ModelRepository(built(tmp_path, "cloud-scl")).resolve("cloud-scl")
    ev = evaluate_scene(cloudy_scene, model, _settings()).evaluation
    assert ev.pixel_accuracy == 1.0  # SCL against itself: the lookup graph is exact
    assert {c.value for c in ev.classes} >= {cm.CLEAR, cm.CLOUD, cm.SHADOW}


def test_cli_prints_the_table(cloudy_scene: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.commands.models import models

    monkeypatch.setenv("EARTHSIG_INFERENCE_MODEL_REPOSITORY", str(built(tmp_path)))
    monkeypatch.setenv("EARTHSIG_INFERENCE_WINDOW_SIZE", "64")
    out = CliRunner().invoke(models, ["eval", "clc-spectral", "--scene", str(cloudy_scene)])
    assert out.exit_code == 0, out.output
    assert "CLC 512 Water bodies" in out.output and "mean IoU" in out.output
    bad = CliRunner().invoke(models, ["eval", "clc-spectral"])
    assert bad.exit_code == 2 and "exactly one of" in bad.output
