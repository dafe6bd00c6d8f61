"""`make unet` (`earthsig models reference-unet`): patches, train, export, evaluate, end to end.

A tiny U-Net and a few steps keep it cheap; the real run (docs/models.md) only changes sizes.
The BigEarthNet figures of clc-spectral:1 from this path must be the ones
`earthsig models eval clc-spectral:1 --bigearthnet` prints (docs/models.md): example F1 0.71 at
CLC level 1 and 0.38 at level 2 on the 68 real patches, beside the constant baselines.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from inference.backends import OnnxRuntimeBackend
from inference.patches import read_patches
from inference.repository import ModelRepository
from infra.commands.models import models

ROOT = Path(__file__).parents[2]


@pytest.fixture
def in_repo_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    # The BigEarthNet fixture lives under the checkout's .earthsig/testdata (make install).
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("EARTHSIG_INFERENCE_MODEL_REPOSITORY", str(tmp_path / "repo"))
    return tmp_path


def test_reference_unet_trains_exports_and_evaluates(in_repo_root: Path) -> None:
    work = in_repo_root / "work"
    out = CliRunner().invoke(models, [
        "reference-unet", "--work", str(work), "--seeds", "1,2", "--count", "4", "--size", "32",
        "--width", "4", "--depth", "2", "--steps", "3", "--batch", "4", "--eval-size", "256",
        "--eval-seed", "7"])
    assert out.exit_code == 0, out.output
    text = out.output

    # Patches of both seeds, then a checkpoint, then a new repository version.
    patches = read_patches(work / "patches")
    assert patches.x.shape == (8, 4, 32, 32)
    assert len({p.name.rsplit("_", 1)[0] for p in (work / "patches").iterdir()}) == 2
    repo = ModelRepository(in_repo_root / "repo")
    assert repo.versions("clc-unet") == ["1"]
    model = repo.resolve("clc-unet:1")
    trained_on = sorted(int(c) for c in np.unique(patches.y) if c)
    assert model.spec.output_classes == trained_on
    mlm = json.loads(model.mlm_path.read_text())["properties"]
    assert mlm["mlm:hyperparameters"]["training_steps"] == 3
    assert mlm["mlm:hyperparameters"]["width"] == 4
    probs = OnnxRuntimeBackend(model.onnx_path, threads=1).predict(
        model.spec.prepare(patches.x[:2]))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)

    # Both models on the same held-out scene, and on BigEarthNet.
    for ref in ("clc-unet:1", "clc-spectral:1"):
        assert f"$ earthsig models eval {ref} --generate 256 --seed 7" in text
        assert f"$ earthsig models eval {ref} --bigearthnet" in text
    scores = [float(x) for x in re.findall(r"mean IoU ([\d.]+) %", text)]
    assert len(scores) == 2 and all(0 <= s <= 100 for s in scores)
    assert scores[1] == 100.0  # clc-spectral on a generated scene (docs/models.md)
    spectral = text.split("$ earthsig models eval clc-spectral:1 --bigearthnet")[1]
    assert re.search(r"clc-spectral:1\s+0\.71 \[0\.64,0\.78\]\s+0\.38 \[0\.31,0\.46\]",
                     spectral), spectral
    assert "baseline: best constant set (chosen on the set) *" in spectral
    assert "clc-spectral:1: sea patches called marine: 0 of 9" in spectral


def test_reference_unet_refuses_a_training_seed_as_held_out(in_repo_root: Path) -> None:
    out = CliRunner().invoke(models, ["reference-unet", "--seeds", "1,7", "--eval-seed", "7",
                                      "--work", str(in_repo_root / "w")])
    assert out.exit_code == 2 and "--eval-seed 7 is a training seed" in out.output
    assert not (in_repo_root / "w").exists()


def test_eval_takes_exactly_one_truth(in_repo_root: Path) -> None:
    out = CliRunner().invoke(models, ["eval", "clc-spectral:1", "--generate", "64",
                                      "--bigearthnet"])
    assert out.exit_code == 2 and "exactly one of" in out.output
