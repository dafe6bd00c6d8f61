"""The spectral reference model: rules on NDVI, NDWI and brightness as an ONNX graph.

No pretrained CLC model exists in any package registry, so the reference model is a soft
decision tree over spectral indices of surface reflectance (B02, B03, B04, B08). Each split is
a sigmoid instead of a hard threshold, so leaf probabilities sum to one and the maximum is a
meaningful confidence: pixels near a threshold get low confidence.

    bright = mean(B02, B03, B04) > 0.40      -> 335 glaciers and perpetual snow
    NDWI   = (B03 - B08) / (B03 + B08) > 0.10 -> 512 water bodies
    NDVI   = (B08 - B04) / (B08 + B04) < 0.25 -> 112 discontinuous urban fabric
                                        < 0.55 -> 211 non-irrigated arable land
                                        < 0.80 -> 231 pastures
                                        else forest: B08 < 0.32 -> 312 coniferous
                                                             else -> 311 broad-leaved

The graph is plain ONNX (opset 17), so ONNX Runtime in process and Triton's ONNX backend
run the very same file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from catalog_schemas import clc

INPUT_NAME = "reflectance"
OUTPUT_NAME = "probabilities"
INPUT_BANDS = ("B02", "B03", "B04", "B08")
OPSET = 17
EPS = 1e-6

# (name, threshold, steepness): steepness is in 1/units of the index.
SNOW = ("bright", 0.40, 40.0)
WATER = ("ndwi", 0.10, 40.0)
URBAN = ("ndvi", 0.25, 40.0)
ARABLE = ("ndvi", 0.55, 40.0)
PASTURE = ("ndvi", 0.80, 40.0)
CONIFER = ("nir", 0.32, 60.0)

LEAF_CLASSES = (335, 512, 112, 211, 231, 312, 311)


class _Graph:
    """A tiny builder that names nodes and collects initialisers."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, value: float | np.ndarray, name: str | None = None) -> str:
        name = name or self._name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        out = self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def band(self, index: int) -> str:
        starts = self.const_i64([index])
        ends = self.const_i64([index + 1])
        axes = self.const_i64([1])
        return self.op("Slice", INPUT_NAME, starts, ends, axes)

    def const_i64(self, values: list[int]) -> str:
        name = self._name("i")
        self.inits.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), name))
        return name

    def ratio(self, a: str, b: str) -> str:
        """(a - b) / (a + b + eps): a normalised difference index."""
        return self.op("Div", self.op("Sub", a, b),
                       self.op("Add", self.op("Add", a, b), self.const(EPS)))

    def above(self, x: str, threshold: float, steepness: float) -> str:
        """Soft ``x > threshold``: sigmoid(steepness * (x - threshold))."""
        shifted = self.op("Sub", x, self.const(threshold))
        return self.op("Sigmoid", self.op("Mul", shifted, self.const(steepness)))

    def not_(self, p: str) -> str:
        return self.op("Sub", self.const(1.0), p)


def _leaf_probabilities(g: _Graph) -> list[str]:
    blue, green, red, nir = (g.band(i) for i in range(4))
    index = {
        "bright": g.op("Div", g.op("Add", g.op("Add", blue, green), red), g.const(3.0)),
        "ndwi": g.ratio(green, nir),
        "ndvi": g.ratio(nir, red),
        "nir": nir,
    }

    def split(rule: tuple[str, float, float]) -> str:
        name, threshold, steepness = rule
        return g.above(index[name], threshold, steepness)

    p_snow = split(SNOW)
    rest = g.not_(p_snow)
    p_water_split = split(WATER)
    p_water = g.op("Mul", rest, p_water_split)
    land = g.op("Mul", rest, g.not_(p_water_split))
    veg_split = split(URBAN)
    p_urban = g.op("Mul", land, g.not_(veg_split))
    veg = g.op("Mul", land, veg_split)
    green_split = split(ARABLE)
    p_arable = g.op("Mul", veg, g.not_(green_split))
    greenery = g.op("Mul", veg, green_split)
    forest_split = split(PASTURE)
    p_pasture = g.op("Mul", greenery, g.not_(forest_split))
    forest = g.op("Mul", greenery, forest_split)
    broad_split = split(CONIFER)
    p_conifer = g.op("Mul", forest, g.not_(broad_split))
    p_broad = g.op("Mul", forest, broad_split)
    return [p_snow, p_water, p_urban, p_arable, p_pasture, p_conifer, p_broad]


# The channels every version of clc-spectral outputs: the CLC classes any version reaches, in
# grid-code order (the order of the 44-channel layout the models first had, so an exact tie
# still goes to the same class). One set for all versions because Triton's config.pbtxt, one
# per model name, fixes the output shape for all of them; a version that does not reach a
# class outputs zeros there.
OUTPUT_CLASSES = [112, 211, 231, 311, 312, 331, 332, 333, 335, 512]


def finish_graph(g: _Graph, leaves: dict[int, str], name: str, *,
                 all_clc_channels: bool = False) -> onnx.ModelProto:
    """The model whose output holds the leaf probabilities on the :data:`OUTPUT_CLASSES`.

    Only the reachable classes are output (the MLM lists them, and the pipeline maps channel
    -> class from it): 44 channels of which all but a few are zero cost ONNX Runtime a 1x1
    convolution and the stitcher an arg-max over 44 float32 planes per pixel, 4x the work.
    ``all_clc_channels`` builds that former layout (a Conv scattering the leaves onto the 44
    CLC channels, grid code - 1): the tests prove both give the same maps.
    """
    unknown = set(leaves) - set(OUTPUT_CLASSES)
    if unknown:
        raise ValueError(f"leaves {sorted(unknown)} are not among the output classes")
    classes = [c for c in OUTPUT_CLASSES if c in leaves]
    stacked = [leaves[code] for code in classes]
    if all_clc_channels:
        n_out = len(clc.clc_classes())
        concat = g.op("Concat", *stacked, axis=1)
        scatter = np.zeros((n_out, len(classes), 1, 1), dtype=np.float32)
        for leaf, code in enumerate(classes):
            scatter[clc.grid_code_of(code) - 1, leaf, 0, 0] = 1.0
        g.nodes.append(helper.make_node("Conv", [concat, g.const(scatter, "scatter")],
                                        [OUTPUT_NAME]))
    else:
        n_out = len(OUTPUT_CLASSES)
        if len(classes) < n_out:  # exact zeros shaped like one band: [N, 1, H, W]
            zeros = g.op("ConstantOfShape", g.op("Shape", leaves[classes[0]]),
                         value=numpy_helper.from_array(np.zeros(1, np.float32)))
            stacked = [leaves.get(code, zeros) for code in OUTPUT_CLASSES]
        g.nodes.append(helper.make_node("Concat", stacked, [OUTPUT_NAME], axis=1))
    graph = helper.make_graph(
        g.nodes,
        name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 4, "H", "W"])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT,
                                       ["N", n_out, "H", "W"])],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="earthsignature")
    model.ir_version = 8  # readable by Triton's and older ONNX Runtime builds
    onnx.checker.check_model(model)
    return model


def build_spectral_model(*, all_clc_channels: bool = False) -> onnx.ModelProto:
    """The ONNX graph: ``reflectance`` [N, 4, H, W] -> ``probabilities`` [N, 10, H, W], the
    channels those of :data:`OUTPUT_CLASSES`, 7 of them reachable (:func:`finish_graph`)."""
    g = _Graph()
    leaves = dict(zip(LEAF_CLASSES, _leaf_probabilities(g), strict=True))
    return finish_graph(g, leaves, "clc_spectral", all_clc_channels=all_clc_channels)
