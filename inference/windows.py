"""Sliding-window inference: read windows, batch them, predict, keep class and confidence.

The raster is never held whole as a float cube: windows of ``size`` pixels are read through
``read_window`` one batch at a time, and only the uint8 class and confidence grids are kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

from inference.backends import Backend

log = logging.getLogger(__name__)

# read_window(window) -> (model input [bands, h, w] float32, valid mask [h, w] bool)
WindowReader = Callable[[Window], tuple[np.ndarray, np.ndarray]]


@dataclass
class Segmentation:
    classes: np.ndarray  # uint8 grid codes (argmax + 1), 0 where invalid
    confidence: np.ndarray  # uint8 0-100 (max probability), 0 where invalid


def windows(height: int, width: int, size: int) -> Iterator[Window]:
    for row in range(0, height, size):
        for col in range(0, width, size):
            yield Window(col, row, min(size, width - col), min(size, height - row))


def segment(read_window: WindowReader, height: int, width: int, backend: Backend, *,
            window_size: int = 512, batch_size: int = 4,
            progress: Callable[[int, int], None] | None = None) -> Segmentation:
    classes = np.zeros((height, width), dtype=np.uint8)
    confidence = np.zeros((height, width), dtype=np.uint8)
    all_windows = list(windows(height, width, window_size))
    for start in range(0, len(all_windows), batch_size):
        chunk = all_windows[start:start + batch_size]
        inputs, masks = zip(*(read_window(w) for w in chunk), strict=True)
        batch = np.stack([_pad(x, window_size) for x in inputs])
        probs = backend.predict(batch)
        for w, mask, p in zip(chunk, masks, probs, strict=True):
            p = p[:, : w.height, : w.width]
            rows, cols = w.toslices()
            classes[rows, cols] = np.where(mask, p.argmax(axis=0) + 1, 0)
            confidence[rows, cols] = np.where(mask, np.rint(p.max(axis=0) * 100), 0)
        if progress:
            progress(min(start + batch_size, len(all_windows)), len(all_windows))
    return Segmentation(classes=classes, confidence=confidence)


def _pad(x: np.ndarray, size: int) -> np.ndarray:
    """Edge windows are padded to the full size so every batch has one shape."""
    _, h, w = x.shape
    if h == size and w == size:
        return x
    return np.pad(x, ((0, 0), (0, size - h), (0, size - w)), mode="edge")


class ProgressLog:
    """A periodic log line with counts and rate, for long inference runs."""

    def __init__(self, what: str, every_s: float = 5.0) -> None:
        self.what, self.every_s = what, every_s
        self.t0 = self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s or done == total:
            rate = done / max(now - self.t0, 1e-9)
            log.info("%s: %d/%d windows (%.1f windows/s)", self.what, done, total, rate)
            self.last = now
