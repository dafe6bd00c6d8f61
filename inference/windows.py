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
accumulator of ``classes x window_size x width``). Windows are not sent to the backend when
none of their pixels would be kept: all invalid, or (with ``keep``, the caller's say of which
pixels it will publish) all hidden, e.g. under cloud. ``keep`` decides skipping only: a window
that runs is stitched exactly as without it, so outputs never change where a pixel is kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from rasterio.windows import Window

from inference.backends import Backend
from inference.stitch import Axis, CentreStitcher, Stitcher, WeightedStitcher, axis_layout

log = logging.getLogger(__name__)

# read_window(window) -> (model input [bands, h, w] float32, valid mask [h, w] bool)
WindowReader = Callable[[Window], tuple[np.ndarray, np.ndarray]]
Prepare = Callable[[np.ndarray], np.ndarray]
# keep(window) -> [h, w] bool: pixels whose class the caller will publish (e.g. not under cloud)
KeepMask = Callable[[Window], np.ndarray]
BLENDS = ("centre", "weighted")


@dataclass
class WindowCounts:
    """How many windows ran, and how many were skipped and why (logged, and for benches)."""

    total: int = 0
    run: int = 0
    skipped_invalid: int = 0  # no valid pixel
    skipped_hidden: int = 0  # valid pixels, but ``keep`` kept none of them
    batches: int = 0  # backend calls
    model_s: float = 0.0  # time within the backend's predict

    @property
    def skipped_share(self) -> float:
        return (self.skipped_invalid + self.skipped_hidden) / max(self.total, 1)


@dataclass
class Segmentation:
    classes: np.ndarray  # uint8 raster values (CLC grid code / cloud value), 0 where invalid
    confidence: np.ndarray  # uint8 0-100 (max probability), 0 where invalid
    # Valid pixels of windows skipped because ``keep`` kept none of them (their classes are 0,
    # though the bands were there); None when no window was skipped so.
    unrun: np.ndarray | None = None
    counts: WindowCounts = field(default_factory=WindowCounts)


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
            values: np.ndarray | None = None, keep: KeepMask | None = None,
            progress: Callable[[int, int], None] | None = None) -> Segmentation:
    """Classify a raster window by window.

    ``prepare`` turns a read batch into model input (the MLM value_scaling); ``values`` maps
    output channel -> raster value (default: channel + 1, the CLC grid code). A window where
    ``keep`` keeps no valid pixel is not run (see the module's docstring).
    """
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, not {blend!r}")
    rows = axis_layout(height, window_size, overlap)
    cols = axis_layout(width, window_size, overlap)
    stitcher: Stitcher = (CentreStitcher(height, width, values) if blend == "centre"
                          else WeightedStitcher(height, width, window_size, values))
    total, done = len(rows) * len(cols), 0
    run = _ChunkRunner(backend, window_size, prepare, stitcher, keep, height, width)
    run.counts.total = total
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
            run(reads, row, chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
            if k + 1 == len(chunks) or chunks[k + 1][0] != r:
                stitcher.finish_row(row, rows[r + 1].pos if r + 1 < len(rows) else height)
    c = run.counts
    log.info("%d windows: %d run in %d batches (%.1f s in the model), %d skipped with no valid "
             "pixel, %d with none kept (%.0f %% skipped)", c.total, c.run, c.batches, c.model_s,
             c.skipped_invalid, c.skipped_hidden, 100 * c.skipped_share,
             extra={"window_counts": c})
    return Segmentation(classes=stitcher.classes, confidence=stitcher.confidence,
                        unrun=run.unrun, counts=c)


def _read_chunk(read_window: WindowReader, row: Axis, cols: list[Axis]
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    return [read_window(Window(c.pos, row.pos, c.length, row.length)) for c in cols]


class _ChunkRunner:
    """Runs the windows of one chunk worth running through the backend, stitches them, and
    counts what ran and what was skipped."""

    def __init__(self, backend: Backend, size: int, prepare: Prepare | None,
                 stitcher: Stitcher, keep: KeepMask | None, height: int, width: int) -> None:
        self.backend, self.size, self.prepare, self.stitcher = backend, size, prepare, stitcher
        self.keep, self.shape = keep, (height, width)
        self.counts = WindowCounts()
        self.unrun: np.ndarray | None = None

    def __call__(self, reads: list[tuple[np.ndarray, np.ndarray]], row: Axis,
                 cols: list[Axis]) -> None:
        live = []
        for i, (_, valid) in enumerate(reads):
            if not valid.any():
                self.counts.skipped_invalid += 1  # all nodata: the grids stay 0 there
            elif self.keep is not None and not self._kept_any(row, cols[i], valid):
                self.counts.skipped_hidden += 1
                self._mark_unrun(row, cols[i], valid)
            else:
                live.append(i)
        if not live:
            return
        batch = np.stack([_pad(reads[i][0], self.size) for i in live])
        t0 = time.perf_counter()
        probs = self.backend.predict(self.prepare(batch) if self.prepare else batch)
        self.counts.model_s += time.perf_counter() - t0
        self.counts.batches += 1
        self.counts.run += len(live)
        for i, p in zip(live, probs, strict=True):
            self.stitcher.add(row, cols[i], p[:, :row.length, :cols[i].length], reads[i][1])

    def _kept_any(self, row: Axis, col: Axis, valid: np.ndarray) -> bool:
        assert self.keep is not None
        kept = self.keep(Window(col.pos, row.pos, col.length, row.length))
        return bool(np.logical_and(kept, valid).any())

    def _mark_unrun(self, row: Axis, col: Axis, valid: np.ndarray) -> None:
        if self.unrun is None:
            self.unrun = np.zeros(self.shape, bool)
        self.unrun[row.pos:row.pos + row.length, col.pos:col.pos + col.length] |= valid


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
