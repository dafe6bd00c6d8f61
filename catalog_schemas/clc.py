"""CORINE Land Cover taxonomy: the 44 level-3 classes, their raster grid codes and colours.

The legend ships as package data (``data/clc_legend.csv``, the official CLC nomenclature and
colours). ``grid_code`` 1-44 is the conventional raster value; 0 is nodata.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

NODATA = 0

RGBA = tuple[int, int, int, int]


@dataclass(frozen=True)
class ClcClass:
    grid_code: int
    clc_code: int
    level1: str
    level2: str
    name: str
    rgb: tuple[int, int, int]

    @property
    def hex_color(self) -> str:
        return "{:02X}{:02X}{:02X}".format(*self.rgb)


class UnknownClassError(KeyError):
    """A CLC code or grid code that is not in the legend."""


@cache
def clc_classes() -> tuple[ClcClass, ...]:
    """All 44 classes, ordered by grid code."""
    text = files("catalog_schemas").joinpath("data/clc_legend.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    classes = tuple(
        ClcClass(
            grid_code=int(r["grid_code"]),
            clc_code=int(r["clc_code"]),
            level1=r["level1"],
            level2=r["level2"],
            name=r["level3"],
            rgb=tuple(int(c) for c in r["rgb"].split("-")),  # type: ignore[arg-type]
        )
        for r in rows
    )
    return tuple(sorted(classes, key=lambda c: c.grid_code))


@cache
def _by_clc_code() -> dict[int, ClcClass]:
    return {c.clc_code: c for c in clc_classes()}


@cache
def clc_code_by_grid_code() -> tuple[int, ...]:
    """The CLC level-3 code of every uint8 raster value (grid codes 1-44; 0 and the values no
    class has map to 0): ``np.asarray(clc_code_by_grid_code())[grid]`` turns a class grid into
    CLC codes."""
    table = [NODATA] * 256
    for c in clc_classes():
        table[c.grid_code] = c.clc_code
    return tuple(table)


def by_clc_code(clc_code: int) -> ClcClass:
    try:
        return _by_clc_code()[int(clc_code)]
    except KeyError:
        raise UnknownClassError(f"{clc_code} is not a CLC level-3 code") from None


def by_grid_code(grid_code: int) -> ClcClass:
    if not 1 <= int(grid_code) <= len(clc_classes()):
        raise UnknownClassError(f"{grid_code} is not a CLC grid code (1-{len(clc_classes())})")
    return clc_classes()[int(grid_code) - 1]


def grid_code_of(clc_code: int) -> int:
    return by_clc_code(clc_code).grid_code


def colormap() -> dict[int, RGBA]:
    """Grid code -> RGBA, nodata (0) fully transparent; the form GDAL and rio-tiler take."""
    cmap: dict[int, RGBA] = {NODATA: (0, 0, 0, 0)}
    cmap.update({c.grid_code: (*c.rgb, 255) for c in clc_classes()})
    return cmap
