"""clc-unet: trained on generated BigEarthNet-style patches, fine-tuned, exported, served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner

from inference.backends import OnnxRuntimeBackend
from inference.patches import Patches
from inference.repository import ModelRepository
from inference.run import run_model
from inference.settings import InferenceSettings
from inference.training import Checkpoint, finetune, train
from inference.unet import UNet
from tests.inference.conftest import UNET_CLASSES, TritonFixture


def test_unet_shapes_and_skip_connections() -> None:
    net = UNet(4, 5, width=4, depth=3).eval()
    out = net(torch.zeros(2, 4, 48, 40))
    assert out.shape == (2, 5, 48, 40) and net.multiple == 8
    assert net.merge[0][0].in_channels == 2 * 16  # up-conv output + skip, concatenated


def test_training_lowers_the_loss_and_finetuning_moves_only_the_head(
        unet_patches: Patches) -> None:
    first = train(unet_patches, UNET_CLASSES, steps=1, width=4, depth=2, batch=8)
    later = train(unet_patches, UNET_CLASSES, steps=25, width=4, depth=2, batch=8)
    x = torch.from_numpy(np.stack([first.normalise(p) for p in unet_patches.x]))
    y = torch.from_numpy(np.vectorize({c: i for i, c in enumerate(UNET_CLASSES)}.get)(
        unet_patches.y)).long()
    losses = []
    for ck in (first, later):
        net = ck.model().eval()
        with torch.no_grad():
            losses.append(float(torch.nn.functional.cross_entropy(net(x), y)))
    assert losses[1] < losses[0]
    tuned = finetune(later, unet_patches, [512, 311], steps=3, batch=8)
    assert len(tuned.classes) == 2 and tuned.state["head.weight"].shape[0] == 2
    frozen = [k for k in later.state if not k.startswith("head.") and "num_batches" not in k]
    for key in frozen:  # frozen weights; batch-norm running stats may still update in train
        if "running" not in key:
            assert torch.equal(tuned.state[key], later.state[key]), key


def test_exported_unet_gives_identical_class_maps_on_both_backends(
        triton: TritonFixture, unet_patches: Patches) -> None:
    model = triton.repo.resolve("clc-unet")
    assert model.spec.output_classes == UNET_CLASSES and model.spec.value_scaling
    scene = np.concatenate(list(unet_patches.x[:4]), axis=2)  # [4, 32, 128]
    h, w = scene.shape[1:]

    def read(window):
        rows, cols = window.toslices()
        return scene[:, rows, cols], np.ones((window.height, window.width), bool)

    maps = {b: run_model(read, h, w, model, InferenceSettings(
        _env_file=None, backend=b, triton_url=triton.url, window_size=64, window_overlap=0,
        ort_threads=1)) for b in ("onnxruntime", "triton")}
    np.testing.assert_array_equal(maps["onnxruntime"].classes, maps["triton"].classes)
    assert maps["triton"].classes.min() > 0


def test_cli_train_finetune_export(tmp_path: Path, monkeypatch, unet_patches: Patches) -> None:
    from infra.commands.models import models
    from samples.patches import write_generated_patches

    patches = write_generated_patches(tmp_path / "p", 4, size=32)
    monkeypatch.setenv("EARTHSIG_INFERENCE_MODEL_REPOSITORY", str(tmp_path / "repo"))
    run = CliRunner().invoke
    out = run(models, ["train", str(patches), "--out", str(tmp_path / "a.pt"), "--steps", "2",
                       "--width", "4", "--depth", "2", "--batch", "4"])
    assert out.exit_code == 0, out.output
    out = run(models, ["finetune", str(tmp_path / "a.pt"), str(patches), "--classes",
                       "512,311", "--out", str(tmp_path / "b.pt"), "--steps", "2"])
    assert out.exit_code == 0, out.output
    assert Checkpoint.load(tmp_path / "b.pt").classes == [512, 311]
    for _ in range(2):
        out = run(models, ["export", str(tmp_path / "b.pt"), "--name", "burnt-unet"])
        assert out.exit_code == 0, out.output
    repo = ModelRepository(tmp_path / "repo")
    assert repo.versions("burnt-unet") == ["1", "2"]  # each export is a new version
    model = repo.resolve("burnt-unet")
    probs = OnnxRuntimeBackend(model.onnx_path, threads=1).predict(
        model.spec.prepare(unet_patches.x[:1]))
    assert probs.shape == (1, 2, 32, 32)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
