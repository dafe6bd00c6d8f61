"""``clc-spectral`` version 2: the rule model of version 1 with the bare and sparse classes.

Same inputs (B02, B03, B04, B08 surface reflectance), same soft splits (``spectral._Graph``);
the non-vegetated branch is split further, and bright half-vegetated pixels get their own leaf:

    bright > 0.40                                 -> 335 glaciers and perpetual snow
    NDWI > 0.10                                   -> 512 water bodies
    NDVI < 0.25 (no or little vegetation):
        bright < 0.16                             -> 112 discontinuous urban fabric
        NDVI > 0.12                               -> 333 sparsely vegetated areas
        yellowness (B04 - B02)/(B04 + B02) > 0.12 -> 331 beaches, dunes, sands
        else                                      -> 332 bare rocks
    NDVI < 0.55: bright > 0.15                    -> 333 sparsely vegetated areas
                 else                             -> 211 non-irrigated arable land
    NDVI < 0.80                                   -> 231 pastures
    else forest: B08 < 0.32 -> 312 coniferous, else 311 broad-leaved

The thresholds are set by hand from typical summer spectra, not fitted: dark impervious
surfaces are darker than bare rock or sand, sand is yellower (red above blue) than grey rock,
and sparse vegetation is a little green over a bright background. Version 1 stays beside it.
"""

from __future__ import annotations

from collections.abc import Callable

import onnx

from inference.spectral import (
    ARABLE,
    CONIFER,
    PASTURE,
    SNOW,
    URBAN,
    WATER,
    _Graph,
    finish_graph,
)

DARK = ("bright", 0.16, 80.0)  # urban below, bare or sparse above
SPARSE_BARE = ("ndvi", 0.12, 60.0)  # some vegetation over bright ground
SAND = ("yellow", 0.12, 40.0)
SPARSE_GREEN = ("bright", 0.15, 80.0)  # a half-green pixel this bright shows its ground

LEAF_CLASSES = (335, 512, 112, 333, 331, 332, 211, 231, 312, 311)
SPARSE = 333


Split = Callable[[str, tuple[str, float, float]], tuple[str, str]]


def splitter(g: _Graph, index: dict[str, str]) -> Split:
    """A soft split of ``parent`` by a rule (index name, threshold, steepness) over ``index``:
    (parent and below the threshold, parent and above it)."""

    def split(parent: str, rule: tuple[str, float, float]) -> tuple[str, str]:
        name, threshold, steepness = rule
        above = g.above(index[name], threshold, steepness)
        return g.op("Mul", parent, g.not_(above)), g.op("Mul", parent, above)

    return split


def land_leaves(g: _Graph, split: Split, land: str) -> dict[int, str]:
    """Version 2's tree below snow and water: ``land`` shared out over the bare, sparse and
    vegetated leaves (version 3 grows it on what its burnt leaf leaves)."""
    bare, veg = split(land, URBAN)
    urban, bright_bare = split(bare, DARK)
    rock_or_sand, sparse_low = split(bright_bare, SPARSE_BARE)
    rock, sand = split(rock_or_sand, SAND)
    cropland, greenery = split(veg, ARABLE)
    arable, sparse_high = split(cropland, SPARSE_GREEN)
    pasture, forest = split(greenery, PASTURE)
    conifer, broad = split(forest, CONIFER)
    sparse = g.op("Add", sparse_low, sparse_high)
    return {112: urban, SPARSE: sparse, 331: sand, 332: rock, 211: arable, 231: pasture,
            312: conifer, 311: broad}


def _leaves(g: _Graph) -> dict[int, str]:
    blue, green, red, nir = (g.band(i) for i in range(4))
    split = splitter(g, {
        "bright": g.op("Div", g.op("Add", g.op("Add", blue, green), red), g.const(3.0)),
        "ndwi": g.ratio(green, nir),
        "ndvi": g.ratio(nir, red),
        "yellow": g.ratio(red, blue),
        "nir": nir,
    })
    rest, snow = split(g.const(1.0), SNOW)
    land, water = split(rest, WATER)
    return {335: snow, 512: water, **land_leaves(g, split, land)}


def build_spectral_v2_model(*, all_clc_channels: bool = False) -> onnx.ModelProto:
    """``reflectance`` [N, 4, H, W] -> ``probabilities`` [N, 10, H, W], the channels those of
    :data:`OUTPUT_CLASSES` (``spectral.finish_graph``)."""
    g = _Graph()
    return finish_graph(g, _leaves(g), "clc_spectral_v2",
                        all_clc_channels=all_clc_channels)
