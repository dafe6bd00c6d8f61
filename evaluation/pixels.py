"""Segmentation quality against a labelled raster: per-class IoU, mean IoU, pixel accuracy.

Plain arrays in, plain numbers out, so the same function serves the CLI, tests and benchmarks.
Conventions (those of most segmentation benchmarks, stated because they change the figures):

- only pixels where ``valid`` is true and the truth is not nodata (0) count;
- a pixel the model left without a class (0) counts as wrong, never as skipped;
- a class's IoU is ``TP / (TP + FP + FN)``; classes that appear in neither the truth nor the
  prediction have no IoU and are left out;
- mean IoU averages every class present in the truth *or* the prediction, so a class the
  model invents where it does not exist counts with IoU 0 (it lowers the mean);
- pixel accuracy is correct pixels over counted pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NODATA = 0


@dataclass(frozen=True)
class ClassScore:
    value: int  # raster value (CLC grid code or cloud-mask value)
    truth_pixels: int  # TP + FN
    predicted_pixels: int  # TP + FP
    correct_pixels: int  # TP

    @property
    def iou(self) -> float:
        union = self.truth_pixels + self.predicted_pixels - self.correct_pixels
        return self.correct_pixels / union if union else float("nan")

    @property
    def recall(self) -> float:
        return self.correct_pixels / self.truth_pixels if self.truth_pixels else float("nan")

    @property
    def precision(self) -> float:
        return (self.correct_pixels / self.predicted_pixels if self.predicted_pixels
                else float("nan"))


@dataclass(frozen=True)
class Evaluation:
    classes: tuple[ClassScore, ...]  # ordered by value
    pixels: int  # pixels counted
    correct: int

    @property
    def mean_iou(self) -> float:
        scores = [c.iou for c in self.classes if c.truth_pixels or c.predicted_pixels]
        return float(np.mean(scores)) if scores else float("nan")

    @property
    def pixel_accuracy(self) -> float:
        return self.correct / self.pixels if self.pixels else float("nan")

    def by_value(self, value: int) -> ClassScore:
        for c in self.classes:
            if c.value == value:
                return c
        raise KeyError(f"class {value} is in neither the truth nor the prediction")


def evaluate(truth: np.ndarray, predicted: np.ndarray, valid: np.ndarray | None = None
             ) -> Evaluation:
    """Compare two class rasters of the same shape (uint8 values; 0 = nodata)."""
    if truth.shape != predicted.shape:
        raise ValueError(f"truth {truth.shape} and prediction {predicted.shape} differ in shape")
    counted = truth != NODATA
    if valid is not None:
        if valid.shape != truth.shape:
            raise ValueError(f"valid mask {valid.shape} does not match the truth {truth.shape}")
        counted &= valid.astype(bool)
    t = truth[counted].astype(np.int64)
    p = predicted[counted].astype(np.int64)
    size = int(max(t.max(initial=0), p.max(initial=0))) + 1
    # One bincount over (truth, prediction) pairs is the whole confusion matrix.
    confusion = np.bincount(t * size + p, minlength=size * size).reshape(size, size)
    scores = tuple(
        ClassScore(value=v, truth_pixels=int(confusion[v].sum()),
                   predicted_pixels=int(confusion[:, v].sum()),
                   correct_pixels=int(confusion[v, v]))
        for v in range(1, size) if confusion[v].sum() or confusion[:, v].sum())
    return Evaluation(classes=scores, pixels=int(t.size), correct=int(np.trace(confusion[1:, 1:])))
