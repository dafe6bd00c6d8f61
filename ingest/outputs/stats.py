"""Per-item land-cover statistics: class fractions over valid pixels, cloud cover, coverage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from catalog_schemas import landcover_stats as names

STRIP_ROWS = 512


@dataclass(frozen=True)
class LandcoverStats:
    fractions: dict[int, float]  # CLC code -> share of valid pixels, classes present only
    cloud_cover: float  # percent of observed pixels that are cloud, thin cloud or shadow
    valid_fraction: float  # share of the grid with a usable land-cover pixel
    pixel_counts: dict[int, int]  # CLC code -> number of valid pixels

    @property
    def classes(self) -> list[int]:
        return sorted(self.fractions)

    def properties(self) -> dict[str, object]:
        """The item properties: ``clc:*`` of the project's extension and ``eo:cloud_cover``."""
        props: dict[str, object] = {
            names.CLASSES: [str(code) for code in self.classes],
            names.VALID_FRACTION: round(self.valid_fraction, 6),
            "eo:cloud_cover": round(self.cloud_cover, 3),
        }
        props.update({names.fraction_key(code): round(f, 6)
                      for code, f in self.fractions.items()})
        return props


def landcover_stats(classes: np.ndarray, cloudmask: np.ndarray) -> LandcoverStats:
    """Statistics of a class grid (grid codes, 0 nodata) under its cloud mask.

    Valid pixels have a class and a clear (or snowy) sky; fractions are over valid pixels, so
    they sum to 1 whenever any pixel is valid.
    """
    if classes.shape != cloudmask.shape:
        raise ValueError(f"classes {classes.shape} and cloud mask {cloudmask.shape} differ")
    # Strip by strip, through a 256-entry table of the cloud-mask values: a whole tile's
    # boolean masks and the int64 copy ``bincount`` makes of the selected classes (up to
    # 1 GB at 10980 px) never exist at once, and no pass over the tile is repeated.
    obscured = np.zeros(256, bool)
    obscured[list(cm.OBSCURED)] = True
    counts = np.zeros(max(len(clc.clc_classes()) + 1, 256), np.int64)
    n_observed = n_hidden = 0
    for top in range(0, classes.shape[0], STRIP_ROWS):
        cls, mask = classes[top:top + STRIP_ROWS], cloudmask[top:top + STRIP_ROWS]
        observed = mask != cm.NODATA
        hidden = obscured[mask]  # NODATA is not obscured
        valid = (cls > 0) & observed & ~hidden
        counts += np.bincount(cls[valid], minlength=len(counts))[:len(counts)]
        n_observed += int(np.count_nonzero(observed))
        n_hidden += int(np.count_nonzero(hidden))
    n_valid = int(counts.sum())
    pixel_counts = {clc.by_grid_code(int(g)).clc_code: int(counts[g])
                    for g in np.flatnonzero(counts) if g > 0}
    fractions = {code: n / n_valid for code, n in pixel_counts.items()} if n_valid else {}
    return LandcoverStats(
        fractions=fractions,
        cloud_cover=100.0 * n_hidden / n_observed if n_observed else 100.0,
        valid_fraction=n_valid / classes.size if classes.size else 0.0,
        pixel_counts=pixel_counts,
    )
