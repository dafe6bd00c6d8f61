"""``clc-spectral`` version 3: version 2's rule tree with burnt areas (CLC 334), read from SWIR.

Inputs B02, B03, B04, B08 and B12 surface reflectance (B12 is 20 m; the reader interpolates
it onto the 10 m grid). A fresh burn scar is dark in the visible and the NIR (charcoal and ash,
the leaves gone) while short-wave infrared stays high (dry, bare, hot ground): the Normalized
Burn Ratio ``NBR = (B08 - B12) / (B08 + B12)`` turns negative. One leaf is split off the land
branch, after snow and water and before everything else:

    bright > 0.40                                  -> 335 glaciers and perpetual snow
    NDWI > 0.10                                    -> 512 water bodies
    NBR < -0.25 and bright < 0.16                  -> 334 burnt areas
    else version 2's tree (112, 333, 331, 332, 211, 231, 312, 311)

Why this order and these numbers (set by hand, not fitted):

- water first: water's SWIR is near zero too, but so is its NIR, so its NBR is unstable; NDWI
  has already taken it (a turbid or shallow pixel that NDWI misses is not a burn either:
  its NBR is near zero or positive);
- NBR < -0.25 means NIR below 60 % of SWIR-2: no green canopy does that (forest and pasture
  have NBR 0.4-0.7, arable land and dark urban fabric about -0.1 to 0.1); -0.25 keeps only
  severe, fresh burns and leaves a margin to dark roofs and asphalt around -0.1;
- dark (mean visible reflectance < 0.16, version 2's urban/bare split): bright dry soil,
  sand or rock can have NIR below SWIR-2 as well, but it is bright; a burn is not.

Leaves sum to one as in versions 1 and 2 (the burnt leaf's probability is taken from the land
branch before version 2's tree shares out the rest), so the maximum is still a confidence.
Versions 1 and 2 are untouched: their files, and items that name them, stay valid.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from inference.spectral import (
    INPUT_NAME,
    OPSET,
    OUTPUT_CLASSES,
    OUTPUT_NAME,
    SNOW,
    WATER,
    _Graph,
)
from inference.spectral_v2 import DARK, land_leaves, splitter

INPUT_BANDS = ("B02", "B03", "B04", "B08", "B12")
BURNT = 334
BURN_NBR = ("nbr", -0.25, 40.0)  # burnt below
BURN_DARK = DARK  # burnt below (mean visible reflectance 0.16)

LEAF_CLASSES = (335, 512, 334, 112, 333, 331, 332, 211, 231, 312, 311)
# Version 2's channels and 334, in grid-code order (334 is grid 34, between 333 and 335).
V3_OUTPUT_CLASSES = sorted([*OUTPUT_CLASSES, BURNT])


def _leaves(g: _Graph) -> dict[int, str]:
    blue, green, red, nir, swir22 = (g.band(i) for i in range(len(INPUT_BANDS)))
    split = splitter(g, {
        "bright": g.op("Div", g.op("Add", g.op("Add", blue, green), red), g.const(3.0)),
        "ndwi": g.ratio(green, nir),
        "ndvi": g.ratio(nir, red),
        "nbr": g.ratio(nir, swir22),
        "yellow": g.ratio(red, blue),
        "nir": nir,
    })
    rest, snow = split(g.const(1.0), SNOW)
    land, water = split(rest, WATER)
    low_nbr, _ = split(land, BURN_NBR)
    burnt, _ = split(low_nbr, BURN_DARK)
    unburnt = g.op("Sub", land, burnt)
    return {335: snow, 512: water, BURNT: burnt, **land_leaves(g, split, unburnt)}


def build_spectral_v3_model() -> onnx.ModelProto:
    """``reflectance`` [N, 5, H, W] -> ``probabilities`` [N, 11, H, W], the channels those of
    :data:`V3_OUTPUT_CLASSES` (all 11 reachable).

    Its own shapes (5 bands, 11 classes), not versions 1-2's (4, 10): the repository's
    ``config.pbtxt`` states a dimension the versions disagree on as -1
    (``repository.triton_config``), so each version keeps the channels its MLM lists.
    """
    g = _Graph()
    leaves = _leaves(g)
    g.nodes.append(helper.make_node("Concat", [leaves[c] for c in V3_OUTPUT_CLASSES],
                                    [OUTPUT_NAME], axis=1))
    graph = helper.make_graph(
        g.nodes,
        "clc_spectral_v3",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                       ["N", len(INPUT_BANDS), "H", "W"])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT,
                                       ["N", len(V3_OUTPUT_CLASSES), "H", "W"])],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="earthsignature")
    model.ir_version = 8  # readable by Triton's and older ONNX Runtime builds
    onnx.checker.check_model(model)
    return model
