"""Stitching window predictions into class and confidence grids (see ``windows.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Axis:
    """One window position along an axis and the part of it this window owns (centre mode)."""

    pos: int  # first pixel of the window
    length: int  # pixels read (the window size, or the raster's length if smaller)
    own_start: int  # owned pixels [own_start, own_end), raster coordinates
    own_end: int
    weights: np.ndarray  # weighted mode: >0 everywhere, tapering towards inner edges


def axis_layout(length: int, size: int, overlap: int) -> list[Axis]:
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must be in [0, window size {size}), not {overlap}")
    if length <= size:
        return [Axis(0, length, 0, length, np.ones(length, np.float32))]
    positions = list(range(0, length - size + 1, size - overlap))
    if positions[-1] != length - size:
        positions.append(length - size)  # the last window moves inwards: always full size
    # Overlap between neighbours i and i+1 is cut at its middle.
    cuts = [0] + [(b + a + size) // 2 for a, b in zip(positions, positions[1:], strict=False)]
    cuts.append(length)
    axes = []
    for i, pos in enumerate(positions):
        t = np.arange(size, dtype=np.float32) + 0.5
        w = np.ones(size, np.float32)
        before = positions[i - 1] + size - pos if i > 0 else 0
        after = pos + size - positions[i + 1] if i + 1 < len(positions) else 0
        if before > 0:  # ramp over the actual overlap with the previous window
            w = np.minimum(w, t / before)
        if after > 0:
            w = np.minimum(w, (size - t) / after)
        axes.append(Axis(pos, size, cuts[i], cuts[i + 1], w))
    return axes


class Stitcher(Protocol):
    classes: np.ndarray
    confidence: np.ndarray

    def add(self, row: Axis, col: Axis, probs: np.ndarray, valid: np.ndarray) -> None: ...

    def finish_row(self, row: Axis, next_pos: int) -> None: ...


def _lookup(values: np.ndarray | None, n_channels: int) -> np.ndarray:
    if values is None:  # CLC: channel i is grid code i + 1
        return np.arange(1, n_channels + 1, dtype=np.uint8)
    if len(values) != n_channels:
        raise ValueError(f"{len(values)} raster values for {n_channels} output channels")
    return np.asarray(values, dtype=np.uint8)


def _classify(probs: np.ndarray, valid: np.ndarray, lut: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """[C, h, w] probabilities -> uint8 class values and confidence, 0 where invalid.

    A pixel where no class has any probability (a lookup model's "no data") is invalid too.
    The arg-max runs plane by plane (contiguous, in place) instead of as a reduction over the
    strided channel axis: 3-4x faster, and the same answer (the first maximum wins).
    """
    best = probs[0].astype(np.float32, copy=True)
    index = np.zeros(best.shape, np.uint8 if len(probs) <= 256 else np.intp)
    above = np.empty(best.shape, bool)
    for c in range(1, len(probs)):
        np.greater(probs[c], best, out=above)
        np.copyto(index, c, where=above)
        np.maximum(best, probs[c], out=best)
    ok = best > 0
    ok &= valid
    classes = np.zeros(best.shape, np.uint8)
    np.copyto(classes, lut[index], where=ok)
    np.clip(best, 0, 1, out=best)
    best *= 100
    confidence = np.zeros(best.shape, np.uint8)
    np.copyto(confidence, np.rint(best, out=best), where=ok, casting="unsafe")
    return classes, confidence


class CentreStitcher:
    """Each window writes only the part it owns: no accumulation."""

    def __init__(self, height: int, width: int, values: np.ndarray | None) -> None:
        self.classes = np.zeros((height, width), np.uint8)
        self.confidence = np.zeros((height, width), np.uint8)
        self.values = values

    def add(self, row: Axis, col: Axis, probs: np.ndarray, valid: np.ndarray) -> None:
        lut = _lookup(self.values, probs.shape[0])
        r0, r1 = row.own_start - row.pos, row.own_end - row.pos
        c0, c1 = col.own_start - col.pos, col.own_end - col.pos
        cls, conf = _classify(probs[:, r0:r1, c0:c1], valid[r0:r1, c0:c1], lut)
        out = (slice(row.own_start, row.own_end), slice(col.own_start, col.own_end))
        self.classes[out], self.confidence[out] = cls, conf

    def finish_row(self, row: Axis, next_pos: int) -> None:
        pass


class WeightedStitcher:
    """Accumulates weighted probabilities over one band of window rows, then finalises it.

    After window row *r* no later window touches rows above the next row's first pixel, so
    those rows are classified and the band buffer moves down: memory is one window row high.
    """

    def __init__(self, height: int, width: int, size: int, values: np.ndarray | None) -> None:
        self.classes = np.zeros((height, width), np.uint8)
        self.confidence = np.zeros((height, width), np.uint8)
        self.values, self.width = values, width
        self.band_h = min(size, height)
        self.top = 0  # raster row of the buffer's first row
        self.acc: np.ndarray | None = None  # [C, band_h, width], allocated on first prediction
        self.wsum = np.zeros((self.band_h, width), np.float32)
        self.valid = np.zeros((self.band_h, width), bool)

    def add(self, row: Axis, col: Axis, probs: np.ndarray, valid: np.ndarray) -> None:
        if self.acc is None:
            self.acc = np.zeros((probs.shape[0], self.band_h, self.width), np.float32)
        r0 = row.pos - self.top
        rs, cs = slice(r0, r0 + row.length), slice(col.pos, col.pos + col.length)
        w = np.outer(row.weights[:row.length], col.weights[:col.length])
        self.acc[:, rs, cs] += probs * w
        self.wsum[rs, cs] += w
        self.valid[rs, cs] |= valid

    def finish_row(self, row: Axis, next_pos: int) -> None:
        n = next_pos - self.top
        out = slice(self.top, next_pos)
        if self.acc is not None:
            seen = self.wsum[:n] > 0
            probs = self.acc[:, :n] / np.where(seen, self.wsum[:n], 1.0)
            lut = _lookup(self.values, probs.shape[0])
            self.classes[out], self.confidence[out] = _classify(probs, self.valid[:n] & seen,
                                                                lut)
            self.acc[:, :-n] = self.acc[:, n:].copy()
            self.acc[:, -n:] = 0
        for buf in (self.wsum, self.valid):
            buf[:-n] = buf[n:].copy()
            buf[-n:] = 0
        self.top = next_pos
