"""Active learning on a generated scene: a tiny U-Net that never saw coniferous forest labels
(312 unlabelled in its training patches) is unsure there; its least confident windows are
exported for labelling, their true labels put in (as a labeller would), and training on them
raises the mean IoU on held-out windows of the same scene.

Seeds are fixed, so every figure is the same on every run (PyTorch on the CPU, one thread).
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from click.testing import CliRunner

torch = pytest.importorskip("torch")

from catalog_schemas import clc  # noqa: E402
from catalog_schemas import labels as lb  # noqa: E402
from catalog_schemas.earthsig_extension import MEAN_CONFIDENCE  # noqa: E402
from catalog_schemas.validation import validate_item  # noqa: E402
from evaluation.labels import evaluate_patches  # noqa: E402
from inference.patches import BANDS, REFERENCE, read_patches, write_patch  # noqa: E402
from inference.repository import ModelRepository  # noqa: E402
from inference.settings import InferenceSettings  # noqa: E402
from inference.training import Checkpoint, export, fit, train  # noqa: E402
from infra.postgres import libpq_env  # noqa: E402
from ingest.derived.candidates import (  # noqa: E402
    export_candidates,
    score_windows,
    select_candidates,
)
from ingest.derived.inputs import get_item  # noqa: E402
from ingest.pipeline import process_product  # noqa: E402
from ingest.settings import IngestSettings  # noqa: E402
from samples import make_sample_product  # noqa: E402
from samples.patches import write_generated_patches  # noqa: E402

CLASSES = [512, 311, 231, 211, 112, 312, 335]
WEAK = 312
K, SIZE = 8, 32
BASE_STEPS, MORE_STEPS = 300, 200


@dataclass
class Setup:
    home: Path
    blind: Path  # the base model's training patches
    item: pystac.Item
    truth: np.ndarray  # CLC codes
    ckpt: Path
    inference: InferenceSettings
    ingest: IngestSettings
    dsn: str


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, module_pgstac_dsn: str) -> Setup:
    torch.set_num_threads(1)
    home = tmp_path_factory.mktemp("home")
    blind_root = write_generated_patches(home / "blind", 16, size=32, seed=1)
    for ref in blind_root.glob(f"*/*_{REFERENCE}.tif"):  # coniferous forest: never labelled
        with rasterio.open(ref) as src:
            profile, codes = src.profile, src.read(1)
        with rasterio.open(ref, "w", **profile) as dst:
            dst.write(np.where(codes == WEAK, 0, codes), 1)
    ckpt = train(read_patches(blind_root), CLASSES, steps=BASE_STEPS, width=4, depth=2,
                 batch=8, seed=0)
    ckpt.save(home / "base.pt")
    inference = InferenceSettings(_env_file=None, model_repository=home / "models",
                                  window_size=256, window_overlap=0)
    export(ckpt, ModelRepository(home / "models"), "clc-unet", "1", window_size=256)
    ingest = IngestSettings(_env_file=None, home=home)
    product = make_sample_product("32TQM", date(2024, 7, 15), 256, home / "products", seed=21,
                                  cloud_cover=10)
    result = process_product(str(product), "clc-unet:1", ingest=ingest, inference=inference,
                             dsn=module_pgstac_dsn)
    with rasterio.open(product.parent / "truth_landcover.tif") as src:
        grid = src.read(1)
    lut = np.asarray(clc.clc_code_by_grid_code(), np.uint16)
    return Setup(home, blind_root, get_item(result.item_id, dsn=module_pgstac_dsn), lut[grid],
                 home / "base.pt", inference, ingest, module_pgstac_dsn)


def _rasters(item: pystac.Item) -> tuple[np.ndarray, np.ndarray]:
    with rasterio.open(item.assets["landcover"].href) as a, \
            rasterio.open(item.assets["confidence"].href) as b:
        return a.read(1), b.read(1)


def test_selection_is_least_confident_and_diverse(setup: Setup) -> None:
    classes, confidence = _rasters(setup.item)
    windows = score_windows(classes, confidence, SIZE)
    chosen = select_candidates(windows, K)
    assert len(chosen) == K
    scores = [w.mean_confidence for w in chosen]
    assert scores == sorted(scores)
    present = {w.dominant for w in windows}
    cap = math.ceil(K / len(present))
    per_class = {c: sum(w.dominant == c for w in chosen) for c in present}
    assert max(per_class.values()) <= cap and sum(v > 0 for v in per_class.values()) >= 2
    # Every window left out is more confident than the last chosen, or its class is full.
    for w in set(windows) - set(chosen):
        assert w.mean_confidence >= scores[-1] or per_class[w.dominant] == cap
    # Concentrated where the model is unsure: below the scene's typical window.
    assert np.mean(scores) < np.median([w.mean_confidence for w in windows])
    # A window's score is the mean confidence of its classified pixels.
    w = chosen[0]
    win = np.s_[w.row:w.row + SIZE, w.col:w.col + SIZE]
    assert w.mean_confidence == pytest.approx(confidence[win][classes[win] > 0].mean())
    with pytest.raises(ValueError, match="k must be at least 1"):
        select_candidates(windows, 0)


def test_candidates_are_trainer_patches_and_label_items(setup: Setup, tmp_path: Path) -> None:
    found = export_candidates(setup.item, K, tmp_path / "cands", size=SIZE, publish=True,
                              ingest=setup.ingest, dsn=setup.dsn)
    patches = read_patches(tmp_path / "cands")  # the trainer reads the folder as it is
    assert patches.x.shape == (K, len(BANDS), SIZE, SIZE)
    classes, confidence = _rasters(setup.item)
    index = json.loads((tmp_path / "cands" / "candidates.json").read_text())
    assert [c["pid"] for c in index["candidates"]] == [c.pid for c in found]
    for c in found:
        win = np.s_[c.window.row:c.window.row + SIZE, c.window.col:c.window.col + SIZE]
        with rasterio.open(c.folder / f"{c.pid}_{REFERENCE}.tif") as ref, \
                rasterio.open(c.folder / f"{c.pid}_confidence.tif") as conf, \
                rasterio.open(c.folder / f"{c.pid}_chip.tif") as chip, \
                rasterio.open(c.folder / f"{c.pid}_B08.tif") as b08:
            codes = ref.read(1)
            assert np.array_equal(codes > 0, classes[win] > 0)
            assert all(clc.by_clc_code(v).grid_code == g for v, g in
                       zip(codes[codes > 0], classes[win][codes > 0], strict=True))
            assert np.array_equal(conf.read(1), confidence[win])
            assert chip.count == 4 and np.array_equal(chip.read(4), b08.read(1))
            assert ref.transform.c == setup.item.properties["proj:transform"][2] + \
                10 * c.window.col
        stored = get_item(c.pid, lb.LABELS_COLLECTION_ID, dsn=setup.dsn).to_dict()
        validate_item({**stored, "links": [*stored["links"], {
            "rel": "collection", "href": "https://api.example/collections/labels"}]})
        props = stored["properties"]
        assert props["label:type"] == "raster" and props["label:tasks"] == ["segmentation"]
        assert props.get("label:properties") is None  # pgstac drops nulls; the file keeps it
        assert props["label:classes"][0]["classes"] == sorted(int(v) for v in
                                                               np.unique(codes) if v)
        assert props[MEAN_CONFIDENCE] == pytest.approx(c.window.mean_confidence, abs=1e-3)
        source = [ln["href"] for ln in stored["links"] if ln["rel"] == "source"]
        assert source == [f"../../landcover/items/{setup.item.id}"]
        assert stored["assets"]["labels"]["roles"] == ["labels", "labels-raster"]
        local = json.loads((c.folder / f"{c.pid}.json").read_text())
        assert local["assets"]["labels"]["href"] == f"./{c.pid}_{REFERENCE}.tif"
        assert "label:properties" in local["properties"]
        assert local["properties"]["label:properties"] is None


def _correct(root: Path, truth: np.ndarray, classes: np.ndarray) -> None:
    """What a labeller does: the true class wherever the image shows the ground."""
    for pid_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        row, col = (int(part[1:]) for part in pid_dir.name.rsplit("_", 2)[1:])
        path = pid_dir / f"{pid_dir.name}_{REFERENCE}.tif"
        with rasterio.open(path) as src:
            profile = src.profile
        win = np.s_[row:row + SIZE, col:col + SIZE]
        labels = np.where(classes[win] > 0, truth[win], 0).astype(np.uint16)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(labels, 1)


def _held_out(setup: Setup, root: Path, exclude: set[tuple[int, int]]) -> Path:
    """Every other full clear window of the scene, with its true labels."""
    classes, confidence = _rasters(setup.item)
    with rasterio.open(setup.item.assets["landcover"].href) as src:
        crs, transform = src.crs, src.transform
    from ingest.derived.candidates import _source_product
    from ingest.readers import load_product, open_product

    with open_product(load_product(_source_product(setup.item)), list(BANDS)) as reader:
        for w in score_windows(classes, confidence, SIZE):
            if (w.row, w.col) in exclude:
                continue
            win = np.s_[w.row:w.row + SIZE, w.col:w.col + SIZE]
            x, valid = reader.read(rasterio.windows.Window(w.col, w.row, SIZE, SIZE))
            x[:, ~valid] = 0
            labels = np.where(classes[win] > 0, setup.truth[win], 0)
            pid = f"held_{w.row}_{w.col}"
            write_patch(root / pid, pid, x, labels, crs=crs,
                        transform=transform * rasterio.Affine.translation(w.col, w.row))
    return root


def _iou(ev: object, code: int) -> float:
    try:
        return round(ev.by_value(clc.grid_code_of(code)).iou, 4)  # type: ignore[attr-defined]
    except KeyError:
        return float("nan")


def test_training_on_corrected_candidates_improves_held_out(setup: Setup,
                                                            tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    from infra.cli import main

    for key, value in libpq_env(setup.dsn).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EARTHSIG_INFERENCE_MODEL_REPOSITORY", str(setup.home / "models"))
    monkeypatch.setenv("EARTHSIG_INFERENCE_WINDOW_SIZE", "256")
    monkeypatch.setenv("EARTHSIG_INFERENCE_WINDOW_OVERLAP", "0")
    item_json = tmp_path / "item.json"
    item_json.write_text(json.dumps(setup.item.to_dict()))
    cands = tmp_path / "cands"
    run = CliRunner().invoke(main, ["models", "candidates", str(item_json), "--k", str(K),
                                    "--size", str(SIZE), "--out", str(cands)])
    assert run.exit_code == 0, run.output
    assert f"{K} candidates in {cands}" in run.output
    classes, _ = _rasters(setup.item)
    _correct(cands, setup.truth, classes)
    chosen = {(c["row"], c["col"]) for c in
              json.loads((cands / "candidates.json").read_text())["candidates"]}
    held = _held_out(setup, tmp_path / "held", chosen)

    # Active learning's loop: the corrected candidates join the training patches (one
    # format), and the network trains on; the control trains as long without them.
    combined = tmp_path / "combined"
    shutil.copytree(setup.blind, combined)
    shutil.copytree(cands, combined, dirs_exist_ok=True)
    tuned = tmp_path / "tuned.pt"
    run = CliRunner().invoke(main, ["models", "finetune", str(setup.ckpt), str(combined),
                                    "--keep-head", "--steps", str(MORE_STEPS), "--batch", "8",
                                    "--out", str(tuned)])
    assert run.exit_code == 0, run.output
    assert Checkpoint.load(tuned).classes == CLASSES
    repo = ModelRepository(setup.home / "models")
    export(Checkpoint.load(tuned), repo, "clc-unet", "2", window_size=256)
    control = fit(Checkpoint.load(setup.ckpt), read_patches(setup.blind), steps=MORE_STEPS,
                  batch=8, seed=0)
    export(control, repo, "clc-unet", "3", window_size=256)
    before, after, same = (evaluate_patches(held, repo.resolve(f"clc-unet:{v}"),
                                            setup.inference) for v in "123")
    print(f"held-out mean IoU {before.mean_iou:.4f} -> {after.mean_iou:.4f} "
          f"(control {same.mean_iou:.4f}); {WEAK} IoU "
          f"{_iou(before, WEAK)} -> {_iou(after, WEAK)} (control {_iou(same, WEAK)})")
    assert after.mean_iou > before.mean_iou
    assert after.mean_iou > same.mean_iou
    # The gain is the weak class: learnt from the corrected candidates, absent without them.
    assert _iou(before, WEAK) == 0 and _iou(same, WEAK) == 0 and _iou(after, WEAK) > 0.5
    shown = CliRunner().invoke(main, ["models", "eval", "clc-unet:2", "--labels", str(held),
                                      "--baseline", "clc-unet:1"])
    assert shown.exit_code == 0, shown.output
    assert (f"gain on held-out labels: mean IoU {100 * before.mean_iou:.1f} % -> "
            f"{100 * after.mean_iou:.1f} %") in shown.output
