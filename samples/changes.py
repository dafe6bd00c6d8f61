"""Known land-cover changes between two generated acquisitions of one tile.

Two products generated with the same seed show the same landscape; a :class:`Conversion` turns
the pixels of some classes inside a rectangle into another class in the second one (a forest
burnt, a field built on), so change detection has an exact answer to be checked against. The
rectangle is on the 20 m label grid (even 10 m bounds), so every converted pixel stays pure.

Classes drawn only by a conversion have their own signatures here (made up, like the others):
burnt areas are dark, with little NIR left and much SWIR (a negative normalised burn ratio).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samples.spectra import CLASSES, SIGNATURES, SPECTRA, Scl, spectrum

# B02, B03, B04, B08, B11, B12 surface reflectance of classes reachable only by a conversion
# (``SIGNATURES``' columns; the red edge is derived alike, by ``spectra.red_edge``).
CONVERSION_SIGNATURES: dict[int, tuple[float, ...]] = {
    334: (0.03, 0.04, 0.06, 0.08, 0.17, 0.20),  # burnt areas
}
CONVERSION_SCL: dict[int, Scl] = {334: Scl.NOT_VEGETATED}
CONVERSION_SPECTRA: dict[int, tuple[float, ...]] = {
    c: spectrum(s) for c, s in CONVERSION_SIGNATURES.items()}


@dataclass(frozen=True)
class Conversion:
    """Pixels of ``from_classes`` inside rows ``rows`` x cols ``cols`` (10 m pixels, half-open,
    even bounds) become ``to_class`` (CLC codes)."""

    rows: tuple[int, int]
    cols: tuple[int, int]
    to_class: int
    from_classes: tuple[int, ...]

    def __post_init__(self) -> None:
        for name, (start, stop) in (("rows", self.rows), ("cols", self.cols)):
            if start % 2 or stop % 2 or not 0 <= start < stop:
                raise ValueError(f"conversion {name} {start}:{stop} must be even bounds, "
                                 "start < stop (the label grid is 20 m)")
        if self.to_class not in SIGNATURES and self.to_class not in CONVERSION_SIGNATURES:
            raise ValueError(f"conversion to CLC {self.to_class}: no signature for that class "
                             f"(known: {sorted({*SIGNATURES, *CONVERSION_SIGNATURES})})")
        unknown = set(self.from_classes) - set(CLASSES)
        if unknown:
            raise ValueError(f"conversion from CLC {sorted(unknown)}: the generator draws only "
                             f"{list(CLASSES)}")

    def mask20(self, class_index: np.ndarray) -> np.ndarray:
        """Which 20 m pixels convert, given each pixel's index into ``CLASSES``."""
        mask = np.zeros(class_index.shape, bool)
        r0, r1 = self.rows[0] // 2, self.rows[1] // 2
        c0, c1 = self.cols[0] // 2, self.cols[1] // 2
        sources = [CLASSES.index(c) for c in self.from_classes]
        mask[r0:r1, c0:c1] = np.isin(class_index[r0:r1, c0:c1], sources)
        return mask

    def signature(self, band_index: int) -> float:
        """Surface reflectance of ``to_class`` in ``spectra.BANDS[band_index]``."""
        return {**SPECTRA, **CONVERSION_SPECTRA}[self.to_class][band_index]

    def scl(self) -> Scl:
        from samples.spectra import CLASS_SCL

        return {**CLASS_SCL, **CONVERSION_SCL}[self.to_class]
