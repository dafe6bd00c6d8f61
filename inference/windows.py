"""Sliding-window inference: read windows, batch them, predict, stitch class and confidence.

Windows of ``window_size`` pixels step by ``window_size - overlap``; the last window of a row
or column is moved inwards so every window has the full size (no padding, except on a raster
smaller than one window). Overlaps are stitched one of two ways:

- ``centre``: each pixel takes the prediction of the window whose centre is nearest (the
  overlap is cut at its middle), so the edge pixels of a window, which saw the least context,
  are never used where a neighbour saw them better. Nothing is accumulated.
- ``weighted``: probabilities are averaged with weights that ramp up linearly from a window's
  inner edges, so neighbouring windows fade into each other.

Memory is bounded by one band of window rows: the product is read window by window, and only
the uint8 class and confidence grids are held whole (``weighted`` also keeps a float32
accumulator of ``classes x window_size x width``). Windows whose pixels are all invalid are
not sent to the backend.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

from inference.backends import Backend
from inference.stitch import Axis, CentreStitcher, Stitcher, WeightedStitcher, axis_layout

log = logging.getLogger(__name__)

# read_window(window) -> (model input [bands, h, w] float32, valid mask [h, w] bool)
WindowReader = Callable[[Window], tuple[np.ndarray, np.ndarray]]
Prepare = Callable[[np.ndarray], np.ndarray]
BLENDS = ("centre", "weighted")


@dataclass
class Segmentation:
    classes: np.ndarray  # uint8 raster values (CLC grid code / cloud value), 0 where invalid
    confidence: np.ndarray  # uint8 0-100 (max probability), 0 where invalid


def windows(height: int, width: int, size: int) -> Iterator[Window]:
    """Non-overlapping tiles of at most ``size`` pixels (edge tiles clipped)."""
    for row in range(0, height, size):
        for col in range(0, width, size):
            yield Window(col, row, min(size, width - col), min(size, height - row))


def inference_windows(height: int, width: int, size: int, overlap: int = 0
                      ) -> Iterator[Window]:
    """The windows :func:`segment` reads, in order (row band by row band)."""
    for row in axis_layout(height, size, overlap):
        for col in axis_layout(width, size, overlap):
            yield Window(col.pos, row.pos, col.length, row.length)


def segment(read_window: WindowReader, height: int, width: int, backend: Backend, *,
            window_size: int = 512, batch_size: int = 4, overlap: int = 0,
            blend: str = "centre", prepare: Prepare | None = None,
            values: np.ndarray | None = None,
            progress: Callable[[int, int], None] | None = None) -> Segmentation:
    """Classify a raster window by window.

    ``prepare`` turns a read batch into model input (the MLM value_scaling); ``values`` maps
    output channel -> raster value (default: channel + 1, the CLC grid code).
    """
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, not {blend!r}")
    rows = axis_layout(height, window_size, overlap)
    cols = axis_layout(width, window_size, overlap)
    stitcher: Stitcher = (CentreStitcher(height, width, values) if blend == "centre"
                          else WeightedStitcher(height, width, window_size, values))
    total, done = len(rows) * len(cols), 0
    chunks = [(r, row, cols[start:start + batch_size])
              for r, row in enumerate(rows) for start in range(0, len(cols), batch_size)]
    # Reading (GDAL decoding, which releases the GIL) overlaps the model's run on the previous
    # chunk: one chunk is read ahead, in one thread, so the reader is never used by two threads.
    with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as pool:
        ahead = pool.submit(_read_chunk, read_window, chunks[0][1], chunks[0][2])
        for k, (r, row, chunk) in enumerate(chunks):
            reads = ahead.result()
            if k + 1 < len(chunks):
                ahead = pool.submit(_read_chunk, read_window, chunks[k + 1][1],
                                    chunks[k + 1][2])
            _run_chunk(reads, backend, row, chunk, window_size, prepare, stitcher)
            done += len(chunk)
            if progress:
                progress(done, total)
            if k + 1 == len(chunks) or chunks[k + 1][0] != r:
                stitcher.finish_row(row, rows[r + 1].pos if r + 1 < len(rows) else height)
    return Segmentation(classes=stitcher.classes, confidence=stitcher.confidence)


def _read_chunk(read_window: WindowReader, row: Axis, cols: list[Axis]
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    return [read_window(Window(c.pos, row.pos, c.length, row.length)) for c in cols]


def _run_chunk(reads: list[tuple[np.ndarray, np.ndarray]], backend: Backend, row: Axis,
               cols: list[Axis], size: int, prepare: Prepare | None,
               stitcher: Stitcher) -> None:
    live = [i for i, (_, mask) in enumerate(reads) if mask.any()]
    if not live:
        return  # all nodata: nothing to predict, the grids stay 0 there
    batch = np.stack([_pad(reads[i][0], size) for i in live])
    probs = backend.predict(prepare(batch) if prepare else batch)
    for i, p in zip(live, probs, strict=True):
        stitcher.add(row, cols[i], p[:, :row.length, :cols[i].length], reads[i][1])


def _pad(x: np.ndarray, size: int) -> np.ndarray:
    """A raster smaller than one window is padded so every batch has one shape."""
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
