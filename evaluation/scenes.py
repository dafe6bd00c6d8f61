"""A model against a labelled product folder (a generated sample's ``truth_landcover.tif``).

Land-cover models are scored on the clear pixels: those whose SCL maps to clear or snow
(``catalog_schemas.cloudmask``); clouds, thin clouds and shadows hide the ground the truth
describes. Cloud models are scored against the cloud mask derived from SCL; a truth class the
model cannot output is folded into the nearest one it can (thin cloud -> cloud, snow -> clear),
so that a three-class model (clear, cloud, shadow) is not charged for a class it never had.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from evaluation.pixels import Evaluation, evaluate
from inference.errors import InferenceError
from inference.repository import ResolvedModel
from inference.run import run_model
from inference.settings import InferenceSettings
from inference.spec import CLOUDMASK
from ingest.clouds.cloudmask import cloudmask_from_scl
from ingest.readers import load_product, open_product
from samples import TRUTH_FILE, make_sample_product

FOLD = {cm.THIN_CLOUD: cm.CLOUD, cm.SNOW: cm.CLEAR}  # truth class -> the one it falls back to


@dataclass(frozen=True)
class LabelledScene:
    bands: np.ndarray  # [bands, h, w] float32, on the truth's 10 m grid
    valid: np.ndarray  # [h, w] every band has data
    truth: np.ndarray  # [h, w] CLC grid codes
    cloudmask: np.ndarray  # [h, w] cloud-mask values from SCL


@dataclass(frozen=True)
class SceneEvaluation:
    model: str
    kind: str
    scene: Path
    evaluation: Evaluation


def generate_labelled_product(size: int, out_dir: Path, *, tile: str = "32TQM",
                              date: dt.date = dt.date(2024, 7, 15), seed: int = 7,
                              cloud_cover: float = 10.0) -> Path:
    """Write a generated product with ground truth; return its folder."""
    return make_sample_product(tile, date, size, out_dir, seed=seed,
                               cloud_cover=cloud_cover).parent


def load_scene(folder: Path, bands: list[str]) -> LabelledScene:
    items = sorted(Path(folder).glob("*.json"))
    if len(items) != 1 or not (Path(folder) / TRUTH_FILE).exists():
        raise InferenceError(f"{folder} is not a labelled product folder (one item JSON and "
                             f"{TRUTH_FILE} expected, found {[p.name for p in items]})")
    item = load_product(str(items[0]))
    with rasterio.open(Path(folder) / TRUTH_FILE) as ds:
        truth = ds.read(1)
    shape = truth.shape
    out = np.empty((len(bands), *shape), np.float32)
    valid = np.ones(shape, bool)
    for i, band in enumerate(bands):
        if band == "SCL":  # a class value, never scaled to reflectance
            out[i] = _scl(item, shape)
            continue
        with open_product(item, [band]) as reader:
            data, ok = reader.read(Window(0, 0, reader.grid.width, reader.grid.height))
        out[i], ok = _to_grid(data[0], shape), _to_grid(ok, shape)
        valid &= ok
    return LabelledScene(out, valid, truth, cloudmask_from_scl(_scl(item, shape)))


def evaluate_scene(folder: Path, model: ResolvedModel, settings: InferenceSettings
                   ) -> SceneEvaluation:
    """Run ``model`` over the product in ``folder`` and score it against its truth."""
    spec = model.spec
    scene = load_scene(folder, spec.input_bands)
    h, w = scene.truth.shape

    def read(window: Window) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = window.toslices()
        return scene.bands[:, rows, cols], scene.valid[rows, cols]

    predicted = run_model(read, h, w, model, settings).classes
    if spec.output_kind == CLOUDMASK:
        truth = scene.cloudmask.copy()
        for value, fallback in FOLD.items():
            if value not in spec.output_classes:
                truth[truth == value] = fallback
        result = evaluate(truth, predicted, scene.valid)
    else:
        clear = np.isin(scene.cloudmask, (cm.CLEAR, cm.SNOW)) & scene.valid
        result = evaluate(scene.truth, predicted, clear)
    return SceneEvaluation(spec.ref, spec.output_kind, Path(folder), result)


def _scl(item: object, shape: tuple[int, int]) -> np.ndarray:
    with open_product(item, ["B02"]) as reader:  # type: ignore[arg-type]
        window = Window(0, 0, reader.grid.width, reader.grid.height)
        scl = reader.read_on_grid("SCL", window, categorical=True)
    return _to_grid(scl, shape)


def _to_grid(data: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A band of a coarser grid (20 m, 60 m) onto the truth's 10 m grid, by repetition."""
    if data.shape == shape:
        return data
    fy, fx = -(-shape[0] // data.shape[0]), -(-shape[1] // data.shape[1])
    if data.shape[0] * fy < shape[0] or fy != fx:
        raise InferenceError(f"a band of shape {data.shape} is not on the {shape} grid")
    return np.repeat(np.repeat(data, fy, axis=0), fx, axis=1)[: shape[0], : shape[1]]


def class_label(kind: str, value: int) -> str:
    if kind == CLOUDMASK:
        return next(c.name for c in cm.CLOUD_CLASSES if c.value == value)
    c = clc.by_grid_code(value)
    return f"CLC {c.clc_code} {c.name}"


def report(result: SceneEvaluation) -> list[str]:
    """The table ``earthsig models eval`` prints."""
    ev = result.evaluation
    lines = [f"{result.model} on {result.scene} ({ev.pixels} pixels counted)",
             f"{'value':>5}  {'class':44} {'truth px':>9} {'pred px':>9} {'IoU':>6} "
             f"{'recall':>6} {'prec.':>6}"]
    for c in ev.classes:
        lines.append(f"{c.value:5}  {class_label(result.kind, c.value)[:44]:44} "
                     f"{c.truth_pixels:9} {c.predicted_pixels:9} {_pct(c.iou)} "
                     f"{_pct(c.recall)} {_pct(c.precision)}")
    lines.append(f"mean IoU {_pct(ev.mean_iou).strip()} %   pixel accuracy "
                 f"{_pct(ev.pixel_accuracy).strip()} %")
    return lines


def _pct(x: float) -> str:
    return "   n/a" if np.isnan(x) else f"{100 * x:6.1f}"
