"""Smooth random fields: value noise, the domain warp and the stratified Voronoi seed grid."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WARP_OCTAVES = ((256.0, 40.0), (64.0, 10.0))  # (noise spacing, displacement) in 10 m pixels


@dataclass(frozen=True)
class ValueNoise:
    """Smooth noise in [-1, 1]: random values on a lattice, interpolated with smoothstep."""

    lattice: np.ndarray
    spacing: float

    @classmethod
    def random(cls, rng: np.random.Generator, extent: float, spacing: float) -> ValueNoise:
        n = math.ceil(extent / spacing) + 2
        return cls(rng.uniform(-1.0, 1.0, (n, n)).astype(np.float32), spacing)

    def sample(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Noise on the grid ``ys`` x ``xs`` (1-D coordinates in 10 m pixels, 0 to extent)."""
        iy, ty = _cell_weights(ys, self.spacing)
        ix, tx = _cell_weights(xs, self.spacing)
        # Interpolate along x on the small lattice first: two large gathers instead of four.
        along_x = self.lattice[:, ix] * (1 - tx) + self.lattice[:, ix + 1] * tx
        return along_x[iy] * (1 - ty)[:, None] + along_x[iy + 1] * ty[:, None]


def _cell_weights(coords: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    position = np.asarray(coords, dtype=np.float64) / spacing
    cell = np.floor(position).astype(np.intp)
    t = position - cell
    return cell, (t * t * (3 - 2 * t)).astype(np.float32)


@dataclass(frozen=True)
class Warp:
    """A smooth displacement field that bends straight Voronoi edges into natural boundaries."""

    octaves: tuple[tuple[ValueNoise, ValueNoise, float], ...]

    @classmethod
    def random(cls, rng: np.random.Generator, extent: float) -> Warp:
        return cls(tuple(
            (ValueNoise.random(rng, extent, spacing), ValueNoise.random(rng, extent, spacing),
             amplitude)
            for spacing, amplitude in WARP_OCTAVES
        ))

    def apply(self, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Warped coordinates (qy, qx) of the grid ``ys`` x ``xs``."""
        qy = np.repeat(ys[:, None].astype(np.float32), len(xs), axis=1)
        qx = np.repeat(xs[None, :].astype(np.float32), len(ys), axis=0)
        for noise_y, noise_x, amplitude in self.octaves:
            qy += amplitude * noise_y.sample(ys, xs)
            qx += amplitude * noise_x.sample(ys, xs)
        return qy, qx

    @property
    def reach(self) -> float:
        """The largest displacement, in 10 m pixels."""
        return sum(amplitude for _, _, amplitude in self.octaves) * math.sqrt(2)


@dataclass(frozen=True)
class SeedGrid:
    """Voronoi seeds, one anywhere in each cell of a square grid (a stratified random pattern).

    The nearest seed of a point is always one of the 5 x 5 around its own cell (its own seed is
    at most 1.42 cells away, any other at least 2), so the search is exact and vectorised.
    """

    cell: float
    origin: float
    sy: np.ndarray
    sx: np.ndarray

    @classmethod
    def random(cls, rng: np.random.Generator, extent: float, cell: float,
               margin: float) -> SeedGrid:
        # Seeds beyond the image catch points that the warp moves outside it.
        origin = -(margin + 2 * cell)
        n = math.ceil((extent - 2 * origin) / cell) + 1
        corners = origin + np.arange(n) * cell
        offsets = rng.uniform(0.0, cell, (2, n, n))
        sy = (corners[:, None] + offsets[0]).astype(np.float32).ravel()
        sx = (corners[None, :] + offsets[1]).astype(np.float32).ravel()
        return cls(cell, origin, sy, sx)

    @property
    def side(self) -> int:
        return math.isqrt(self.sy.size)

    def nearest(self, qy: np.ndarray, qx: np.ndarray) -> np.ndarray:
        """Flat index of the seed nearest to each point (same shape as ``qy``)."""
        n = self.side
        ci = np.clip(((qy - self.origin) // self.cell).astype(np.intp), 2, n - 3)
        cj = np.clip(((qx - self.origin) // self.cell).astype(np.intp), 2, n - 3)
        own = ci * n + cj
        best = np.full(qy.shape, np.inf, dtype=np.float32)
        index = np.zeros(qy.shape, dtype=np.intp)
        for di in range(-2, 3):
            for dj in range(-2, 3):
                candidate = own + (di * n + dj)
                distance = (qy - self.sy.take(candidate)) ** 2
                distance += (qx - self.sx.take(candidate)) ** 2
                closer = distance < best
                np.copyto(best, distance, where=closer)
                np.copyto(index, candidate, where=closer)
        return index
