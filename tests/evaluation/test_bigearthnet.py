"""`earthsig models eval MODEL --bigearthnet` on every real labelled BigEarthNet patch: the
real model against the constant baselines, and the issue's goals (docs/models.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from evaluation import bigearthnet as ben
from evaluation import patch_scores
from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from infra.cli import main
from samples.real_patches import DEFAULT_ROOT, load_patches
from tests.models import built

ROOT = Path(__file__).parents[2] / DEFAULT_ROOT


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict:
    settings = InferenceSettings(_env_file=None,
                                 model_repository=built(tmp_path_factory.mktemp("models"),
                                                        "clc-dynamicworld", "clc-spectral"))
    repo = ModelRepository.from_settings(settings)
    patches = load_patches(ROOT)
    models = [repo.resolve("clc-dynamicworld"), repo.resolve("clc-spectral:1")]
    _, predictions = ben.evaluate_models(models, settings, patches)
    results = {name: patch_scores.evaluate(name, pred, patches)
               for name, pred in predictions.items()}
    return {"patches": patches, "results": results, "baselines": patch_scores.baselines(patches),
            "predictions": predictions, "model": models[0], "settings": settings}


def test_the_real_model_beats_every_constant_answer(scored: dict) -> None:
    dw = scored["results"]["clc-dynamicworld:1"]
    best = scored["baselines"]["baseline: best constant set (chosen on the set)"]
    assert dw.n == len(scored["patches"]) >= 60
    # Measured: 0.86 and 0.67; the best constant set, chosen on these very patches, 0.70, 0.51.
    assert dw.f1(1).mean >= 0.80 and dw.f1(2).mean >= 0.55
    assert dw.f1(1).mean - best.f1(1).mean >= 0.08
    assert dw.f1(2).mean - best.f1(2).mean >= 0.08
    assert dw.f1(1).low > best.f1(1).mean  # not an accident of the sample
    assert patch_scores.sea_called_marine(dw)[0] >= 7


def test_the_forest_split_gets_the_forest_type(scored: dict) -> None:
    # Patches labelled broad-leaved xor coniferous (not mixed) where forest is found: the
    # commonest forest type is the labelled one (measured 13 of 13; all broad-leaved: 9).
    predictions = scored["predictions"]["clc-dynamicworld:1"]
    right, n = ben.forest_type(predictions, scored["patches"])
    all_broad = {k: np.where(np.isin(v, ben.FOREST_CODES), 311, v)
                 for k, v in predictions.items()}
    broad_right, broad_n = ben.forest_type(all_broad, scored["patches"])
    assert n == broad_n >= 10
    assert right >= n - 1 and right >= broad_right + 3


def test_the_rule_baseline_does_not(scored: dict) -> None:
    spectral = scored["results"]["clc-spectral:1"]
    best = scored["baselines"]["baseline: best constant set (chosen on the set)"]
    assert spectral.f1(2).mean < best.f1(2).mean  # the reason for the real model
    assert patch_scores.sea_called_marine(spectral)[0] == 0


def test_without_the_atmosphere_the_sea_is_not_water(scored: dict) -> None:
    # Fed surface reflectance, the network trained on L1C calls the Baltic forest.
    sea = [p for p in scored["patches"] if p.sea]
    plain = ben.predict_patches(scored["model"], scored["settings"], sea,
                                ben.Atmosphere(0.0, 0.0))
    emulated = {p.id: scored["predictions"]["clc-dynamicworld:1"][p.id] for p in sea}
    marine = {523}
    plain_marine = sum(patch_scores.dominant_class(plain[p.id]) in marine for p in sea)
    emulated_marine = sum(patch_scores.dominant_class(emulated[p.id]) in marine for p in sea)
    assert emulated_marine >= 7 > plain_marine


def test_cli_prints_the_table_beside_the_baselines(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARTHSIG_INFERENCE_MODEL_REPOSITORY",
                       str(built(tmp_path / "m", "clc-dynamicworld")))
    monkeypatch.chdir(ROOT.parents[2])
    result = CliRunner().invoke(main, ["models", "eval", "clc-dynamicworld", "--bigearthnet"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "68 real BigEarthNet patches" in out
    assert "clc-dynamicworld:1" in out and "baseline: always 311" in out
    assert "best constant set (chosen on the set) *" in out
    assert "held out: every source but configilm-BENv2: 44 patches, 9 sea" in out
    assert "clc-dynamicworld:1: sea patches called marine: 8 of 9" in out
