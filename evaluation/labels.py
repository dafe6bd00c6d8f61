"""A model against labelled patches (the trainer's folder format, ``inference.patches``):
held-out windows whose labels a person corrected, scored like a scene (``evaluation.pixels``).

Each patch is segmented on its own (its bands are the model's input: B02, B03, B04, B08
reflectance); reference codes the legend does not know, and 0, are unlabelled and not counted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.windows import Window

from catalog_schemas import clc
from evaluation.pixels import Evaluation, evaluate
from inference.errors import InferenceError
from inference.patches import BANDS, read_patches
from inference.repository import ResolvedModel
from inference.run import run_model
from inference.settings import InferenceSettings


def evaluate_patches(root: Path, model: ResolvedModel, settings: InferenceSettings
                     ) -> Evaluation:
    """Per-class IoU, mean IoU and accuracy of ``model`` over every patch under ``root``."""
    if list(model.spec.input_bands) != list(BANDS):
        raise InferenceError(f"{model.spec.ref} reads {model.spec.input_bands}; labelled "
                             f"patches carry {list(BANDS)}")
    patches = read_patches(Path(root))
    lut = np.zeros(int(max(patches.y.max(), 999)) + 1, np.uint8)
    for c in clc.clc_classes():
        lut[c.clc_code] = c.grid_code
    truth, predicted = [], []
    for x, y in zip(patches.x, patches.y, strict=True):
        valid = (x > 0).all(axis=0)

        def read(window: Window, x: np.ndarray = x, valid: np.ndarray = valid
                 ) -> tuple[np.ndarray, np.ndarray]:
            rows, cols = window.toslices()
            return x[:, rows, cols], valid[rows, cols]

        predicted.append(run_model(read, x.shape[1], x.shape[2], model, settings).classes)
        truth.append(lut[np.clip(y, 0, lut.size - 1)])
    return evaluate(np.concatenate(truth), np.concatenate(predicted))
