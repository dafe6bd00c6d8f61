"""The land cover of a scene: landscapes, parcels and the two anchor blobs on the 20 m grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samples.arrays import by_rows
from samples.noise import SeedGrid, ValueNoise, Warp
from samples.spectra import (
    BAND_NAMES,
    CLASSES,
    RED_EDGE_BANDS,
    REGION_BAND_JITTER,
    REGION_BRIGHTNESS,
    SIGNATURE_BANDS,
)

# Landscapes: (share of landscape cells, class mix of their parcels).
LANDSCAPES: tuple[tuple[float, dict[int, float]], ...] = (
    (0.42, {211: 0.55, 231: 0.33, 112: 0.04, 311: 0.08}),  # farmland
    (0.30, {311: 0.55, 312: 0.33, 231: 0.12}),  # forest
    (0.08, {112: 0.75, 231: 0.15, 211: 0.10}),  # town
    (0.08, {512: 1.0}),  # lake
    (0.12, {312: 0.45, 335: 0.30, 231: 0.25}),  # mountain
)
# The same without the mountain (the only landscape with glacier and snow, 335): a lowland
# summer, such as the demo's around Toulouse; the other shares keep their proportions.
LOWLAND_LANDSCAPES = tuple(entry for entry in LANDSCAPES if 335 not in entry[1])
LANDSCAPE_CELL = 200.0  # 10 m pixels
PARCEL_CELL = 64.0
ANCHOR_CLASSES = (512, 311)
ANCHOR_CORE = 76.0  # radius of the disk always kept, in 10 m pixels
ANCHOR_WOBBLE, ANCHOR_WOBBLE_CELL = 0.25, 48.0  # relative radius change, its noise spacing


@dataclass(frozen=True)
class LandCover:
    """The parcels of the scene, their classes and their reflectance variation."""

    labels: np.ndarray  # (n20, n20) int32 parcel index on the 20 m grid
    parcel_class: np.ndarray  # (parcels,) index into CLASSES
    parcel_gain: np.ndarray  # (parcels, bands) float32 reflectance factors


@dataclass(frozen=True)
class _Anchor:
    """A blob forced to one class, so that every scene has a large interior of that class."""

    parcel: int
    cy: float  # centre, 10 m pixels
    cx: float
    qy: float  # the centre in warped coordinates
    qx: float
    radius: float  # of the blob, in warped coordinates
    core: float  # of the disk always kept, in pixels


@dataclass(frozen=True)
class _Mosaic:
    """Everything that decides the parcel of a point: warp, parcel seeds and anchor blobs."""

    warp: Warp
    parcels: SeedGrid
    anchors: tuple[_Anchor, ...]
    wobble: ValueNoise  # bends the anchors' outlines from circles into lobed shapes

    def label_rows(self, start: int, stop: int, n20: int) -> np.ndarray:
        """Parcel index of the 20 m rows ``start:stop`` (coordinates: 20 m pixel centres)."""
        ys = 2.0 * np.arange(start, stop) + 1.0
        xs = 2.0 * np.arange(n20) + 1.0
        qy, qx = self.warp.apply(ys, xs)
        labels = self.parcels.nearest(qy, qx).astype(np.int32)
        stretch = 1 + ANCHOR_WOBBLE * self.wobble.sample(ys, xs)
        for a in self.anchors:
            blob = (qy - a.qy) ** 2 + (qx - a.qx) ** 2 < (a.radius * stretch) ** 2
            labels[blob] = a.parcel
        # The unwarped cores last: whatever the noise did, each keeps its full disk.
        for a in self.anchors:
            core = (ys[:, None] - a.cy) ** 2 + (xs[None, :] - a.cx) ** 2 < a.core**2
            labels[core] = a.parcel
        return labels


Landscapes = tuple[tuple[float, dict[int, float]], ...]


def draw_land_cover(rng: np.random.Generator, n20: int,
                    landscapes: Landscapes = LANDSCAPES) -> LandCover:
    """The parcels of an ``n20`` x ``n20`` scene on the 20 m grid, their classes and gains,
    its landscapes drawn from ``landscapes`` (share, class mix)."""
    extent = 2.0 * n20
    warp = Warp.random(rng, extent)
    cells = SeedGrid.random(rng, extent, LANDSCAPE_CELL, warp.reach)
    parcels = SeedGrid.random(rng, extent, PARCEL_CELL, warp.reach)
    weights = np.array([share for share, _ in landscapes])
    landscape = rng.choice(len(landscapes), size=cells.sy.size, p=weights / weights.sum())
    # A parcel belongs to the landscape whose cell holds its seed.
    parcel_landscape = landscape[cells.nearest(parcels.sy, parcels.sx)]
    parcel_class = _draw_classes(rng, parcel_landscape, landscapes)
    anchors = _anchors(rng, extent, warp, first_parcel=parcels.sy.size)
    anchor_class = [CLASSES.index(c) for c in ANCHOR_CLASSES]
    parcel_class = np.concatenate([parcel_class, anchor_class]).astype(np.intp)
    mosaic = _Mosaic(warp, parcels, anchors, ValueNoise.random(rng, extent, ANCHOR_WOBBLE_CELL))
    labels = by_rows(lambda a, b: mosaic.label_rows(a, b, n20), (n20, n20), np.int32)
    return LandCover(labels, parcel_class, _parcel_gains(rng, len(parcel_class)))


def _draw_classes(rng: np.random.Generator, landscape: np.ndarray,
                  landscapes: Landscapes) -> np.ndarray:
    """A class per parcel, drawn from its landscape's class mix (vectorised inverse CDF)."""
    mix = np.array([[m.get(c, 0.0) for c in CLASSES] for _, m in landscapes])
    cumulative = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)[landscape]
    draw = rng.random(len(landscape))[:, None]
    return np.minimum((draw > cumulative).sum(axis=1), len(CLASSES) - 1)


def _anchors(rng: np.random.Generator, extent: float, warp: Warp,
             first_parcel: int) -> tuple[_Anchor, ...]:
    """The water and broad-leaved blobs: placed far apart, cores inside the image."""
    core = min(ANCHOR_CORE, extent / 6.5)
    low, high = core + 2.0, max(core + 2.0, extent - core - 2.0)
    first = rng.uniform(low, high, 2)
    # The corner of the allowed square farthest from the first blob keeps the cores apart.
    corners = np.array([[low, low], [low, high], [high, low], [high, high]])
    second = corners[np.argmax(((corners - first) ** 2).sum(axis=1))]
    anchors = []
    for k, (cy, cx) in enumerate((first, second)):
        qy, qx = warp.apply(np.array([cy]), np.array([cx]))
        radius = core * rng.uniform(1.7, 2.0)
        anchors.append(_Anchor(first_parcel + k, float(cy), float(cx), float(qy[0, 0]),
                               float(qx[0, 0]), radius, core))
    return tuple(anchors)


def _parcel_gains(rng: np.random.Generator, count: int) -> np.ndarray:
    """(parcels, bands) factors in ``BANDS`` order: a brightness per parcel times a jitter per
    parcel and band. The red edges' jitter is drawn after the others', so that adding those
    bands left every earlier draw, and the other bands' pixels, as they were."""
    brightness = rng.uniform(1 - REGION_BRIGHTNESS, 1 + REGION_BRIGHTNESS, (count, 1))
    per_band = np.empty((count, len(BAND_NAMES)))
    for bands in (SIGNATURE_BANDS, RED_EDGE_BANDS):
        columns = [BAND_NAMES.index(b) for b in bands]
        per_band[:, columns] = rng.uniform(1 - REGION_BAND_JITTER, 1 + REGION_BAND_JITTER,
                                           (count, len(bands)))
    return (brightness * per_band).astype(np.float32)
