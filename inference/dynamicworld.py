"""Dynamic World (Brown et al. 2022) as the land-cover model ``clc-dynamicworld``.

Dynamic World is Google's 10 m Sentinel-2 segmentation network, trained on 24,000 expert
annotated real scenes worldwide (Scientific Data 9, 251, doi 10.1038/s41597-022-01307-4). Its
TensorFlow SavedModel (github.com/google/dynamicworld, Apache-2.0) is converted once to ONNX by
``earthsig models import-dynamic-world`` (``inference/dynamicworld_import.py``, the only code
that needs TensorFlow) and the converted network is committed in ``inference/pretrained/`` with
its licence and attribution. The network itself takes the notebook's normalised L1C values
(NHWC) and answers logits of nine classes.

This module wraps that network into the model the pipeline runs (NCHW reflectance in, one
probability per CLC class out), with everything the notebook does in the graph, so any ONNX
runtime (ONNX Runtime in process, Triton) reproduces it from the MLM document alone:

    x  = max(reflectance, 0) * 10000                      (DN of the L1C product)
    x  = sigmoid(5 * (log(x * 0.005 + 1) - p30) / p70 - 1)  (the notebook's exp(.)/(exp(.)+1))
    p  = softmax(network(x))                              (nine Dynamic World classes)
    out[c] = sum of p over the Dynamic World classes mapped to CLC class c

The network was trained on top-of-atmosphere reflectance (L1C); the pipeline feeds L1C
products as they are and L2A products with the path reflectance added back
(``ingest/clouds/toa_emulation.py``); ``input_units`` in the MLM document says so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from inference.errors import ModelNotFoundError
from inference.spec import ModelSpec

NAME = "clc-dynamicworld"
PRETRAINED = Path(__file__).parent / "pretrained" / "dynamicworld"
NETWORK_FILE = PRETRAINED / "forward.onnx"
# sha256 of the committed network: the import command prints it; the builder refuses others.
NETWORK_SHA256 = "b9335e22901fe287672ef24f068fdac1a35bf82f207cb27bab40afe95704657d"
SOURCE_REPOSITORY = "https://github.com/google/dynamicworld"
SOURCE_COMMIT = "0dd288fae5fb5291d988e5ea3c12eb91df481ec5"
LICENCE = "Apache-2.0"
ATTRIBUTION = ("This code is produced for the Dynamic World Project by Google in partnership "
               "with National Geographic and the World Resources Institute.")
CITATION = ("Brown, C.F., Brumby, S.P., Guzder-Williams, B. et al. Dynamic World, Near real-time "
            "global 10 m land use land cover mapping. Sci Data 9, 251 (2022). "
            "https://doi.org/10.1038/s41597-022-01307-4")
DOI = "10.1038/s41597-022-01307-4"

BANDS = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B11", "B12")
# Per band (p30, p70) of log(DN * 0.005 + 1) "across a diverse set of surface conditions",
# from the repository's single_image_runner.ipynb; the notebook divides by p70 (not by
# p70 - p30), and so does this model.
NORM_PERCENTILES = np.array([
    [1.7417268007636313, 2.023298706048351],
    [1.7261204997060209, 2.038905204308012],
    [1.6798346251414997, 2.179592821212937],
    [1.7734969472909623, 2.2890068333026603],
    [2.289154079164943, 2.6171674549378166],
    [2.382939712192371, 2.773418590375327],
    [2.3828939530384052, 2.7578332604178284],
    [2.1952484264967844, 2.789092484314204],
    [1.554812948247501, 2.4140534947492487]], dtype=np.float64)
DN_PER_REFLECTANCE = 10000.0

CLASSES = ("water", "trees", "grass", "flooded_vegetation", "crops", "shrub_and_scrub",
           "built", "bare", "snow_and_ice")


@dataclass(frozen=True)
class ClassMapping:
    """Dynamic World class -> one CLC level-3 code, and why that code."""

    dw_class: str
    clc_code: int
    reason: str


# One CLC code per Dynamic World class (docs/models.md discusses each). Water is mapped to
# inland water bodies here; the pipeline's coastline refinement moves water at sea to 523.
MAPPING = (
    ClassMapping("water", 512, "water bodies; at sea 523 (coastline refinement)"),
    ClassMapping("trees", 311, "forest; DW does not tell broad-leaved from coniferous"),
    ClassMapping("grass", 231, "most managed grass in Europe is pasture (CLC 231)"),
    ClassMapping("flooded_vegetation", 411, "inland marshes"),
    ClassMapping("crops", 211, "non-irrigated arable land, Europe's commonest crop class"),
    ClassMapping("shrub_and_scrub", 324, "transitional woodland-shrub"),
    ClassMapping("built", 112, "discontinuous urban fabric, the commonest built class"),
    ClassMapping("bare", 333, "sparsely vegetated areas"),
    ClassMapping("snow_and_ice", 335, "glaciers and perpetual snow"),
)
MARINE_CODE = 523  # sea and ocean: what water at sea becomes (ingest/outputs/coastline.py)
# The refinement the pipeline applies after the network: water outside the coastline is sea
# (ingest/outputs/coastline.py reads this name from the MLM document).
COASTLINE = "coastline-marine-water"


@dataclass(frozen=True)
class ForestSplit:
    """Trees whose SWIR-1 reflectance is below ``threshold`` are coniferous, the rest
    broad-leaved: needle canopies are dark at 1.6 um (real BigEarthNet stands: median B11
    0.03-0.08 under conifers, 0.13-0.18 under broad leaves). Chosen on one source by
    ``earthsig models tune-forest`` (docs/models.md)."""

    band: str = "B11"
    threshold: float = 0.10
    below: int = 312  # coniferous forest
    above: int = 311  # broad-leaved forest (the trees class's own code)
    # Sigmoid slope per unit of reflectance: steep, so the trees' whole probability goes to one
    # type (0.0005 from the threshold: 99.3 %) and the split never changes which of Dynamic
    # World's classes wins a pixel.
    slope: float = 10000.0


FOREST_SPLIT = ForestSplit()


def output_codes(mapping: tuple[ClassMapping, ...] = MAPPING,
                 split: ForestSplit | None = FOREST_SPLIT) -> list[int]:
    """The CLC code of each output channel: each mapped code once (in Dynamic World's class
    order), the forest split's second code after the trees code, then the marine code the
    coastline refinement can write."""
    codes: list[int] = []
    for m in mapping:
        if m.clc_code not in codes:
            codes.append(m.clc_code)
        if split and m.clc_code == split.above and split.below not in codes:
            codes.append(split.below)
    if MARINE_CODE not in codes:
        codes.append(MARINE_CODE)
    return codes


def mapping_matrix(mapping: tuple[ClassMapping, ...] = MAPPING,
                   split: ForestSplit | None = FOREST_SPLIT) -> np.ndarray:
    """[9, channels] 0/1 matrix: Dynamic World class -> output channel (before the split)."""
    codes = output_codes(mapping, split)
    matrix = np.zeros((len(CLASSES), len(codes)), np.float32)
    for m in mapping:
        matrix[CLASSES.index(m.dw_class), codes.index(m.clc_code)] = 1.0
    return matrix


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@cache
def network() -> onnx.ModelProto:
    """The committed, converted network (checked against its pinned hash)."""
    if not NETWORK_FILE.exists():
        raise ModelNotFoundError(
            f"{NETWORK_FILE} is missing: run `earthsig models import-dynamic-world`")
    digest = file_sha256(NETWORK_FILE)
    if digest != NETWORK_SHA256:
        raise ModelNotFoundError(
            f"{NETWORK_FILE} has sha256 {digest}, expected {NETWORK_SHA256}: not the converted "
            "network this code was checked with")
    return onnx.load(str(NETWORK_FILE))


def wrap(net: onnx.ModelProto, mapping: tuple[ClassMapping, ...] = MAPPING, *,
         split: ForestSplit | None = FOREST_SPLIT, fast_mish: bool = True,
         conv_downsample: bool = True) -> onnx.ModelProto:
    """The pipeline's model: NCHW reflectance -> per-CLC-class probabilities (NCHW).

    ``split``: the trees' probability moves from ``split.above`` to ``split.below`` by
    ``sigmoid(slope * (threshold - band))`` (None: all trees stay ``above``).
    ``fast_mish=False`` keeps the network's own Softplus and Tanh, ``conv_downsample=False``
    its antialiased Resize (together: the network as converted, the benchmarks' baseline).
    """
    net_in, net_out = net.graph.input[0].name, net.graph.output[0].name
    p30 = NORM_PERCENTILES[:, 0].reshape(1, -1, 1, 1)
    p70 = NORM_PERCENTILES[:, 1].reshape(1, -1, 1, 1)
    # sigmoid(5 * (log(50 * max(x, 0) + 1) - p30) / p70 - 1) = sigmoid(a * log(..) + b)
    a, b = 5.0 / p70, -5.0 * p30 / p70 - 1.0
    consts = {
        "zero": np.array(0.0, np.float32),
        "dn_factor": np.array(DN_PER_REFLECTANCE * 0.005, np.float32),
        "one": np.array(1.0, np.float32),
        "norm_a": a.astype(np.float32), "norm_b": b.astype(np.float32),
        "class_to_clc": mapping_matrix(mapping, split),
    }
    pre = [
        helper.make_node("Max", ["reflectance", "zero"], ["x_pos"]),
        helper.make_node("Mul", ["x_pos", "dn_factor"], ["x_scaled"]),
        helper.make_node("Add", ["x_scaled", "one"], ["x_plus1"]),
        helper.make_node("Log", ["x_plus1"], ["x_log"]),
        helper.make_node("Mul", ["x_log", "norm_a"], ["x_lin"]),
        helper.make_node("Add", ["x_lin", "norm_b"], ["x_affine"]),
        helper.make_node("Sigmoid", ["x_affine"], ["x_norm"]),
        helper.make_node("Transpose", ["x_norm"], [net_in], perm=[0, 2, 3, 1]),
    ]
    post = [
        helper.make_node("Softmax", [net_out], ["dw_probabilities"], axis=-1),
        helper.make_node("MatMul", ["dw_probabilities", "class_to_clc"],
                         ["clc_mapped" if split else "clc_nhwc"]),
        *(_forest_split_nodes(split, output_codes(mapping, split), consts) if split else []),
        helper.make_node("Transpose", ["clc_nhwc"], ["probabilities"], perm=[0, 3, 1, 2]),
    ]
    n_out = len(output_codes(mapping, split))
    body, mish_consts = _fast_mish(net.graph) if fast_mish else (list(net.graph.node), {})
    consts.update(mish_consts)
    if conv_downsample:
        body = _antialias_as_conv(net, body, consts)
    graph = helper.make_graph(
        [*pre, *body, *post], "clc_dynamicworld",
        [helper.make_tensor_value_info("reflectance", TensorProto.FLOAT,
                                       ["N", len(BANDS), "H", "W"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                       ["N", n_out, "H", "W"])],
        initializer=[*net.graph.initializer,
                     *(numpy_helper.from_array(v, k) for k, v in consts.items())])
    model = helper.make_model(graph, opset_imports=list(net.opset_import),
                              producer_name="earthsignature")
    model.ir_version = net.ir_version
    onnx.checker.check_model(model)
    return model


def _forest_split_nodes(split: ForestSplit, codes: list[int], consts: dict[str, np.ndarray]
                        ) -> list[onnx.NodeProto]:
    """clc_nhwc = clc_mapped + trees * w * (e_below - e_above), w = sigmoid(slope * (t - band))
    read from the model's input (the reflectance it was given)."""
    band, above = BANDS.index(split.band), codes.index(split.above)
    move = np.zeros(len(codes), np.float32)
    move[above], move[codes.index(split.below)] = -1.0, 1.0
    consts.update({
        "split_band": np.array([band], np.int64), "split_band_end": np.array([band + 1], np.int64),
        "split_axis1": np.array([1], np.int64), "split_axis3": np.array([3], np.int64),
        "split_trees": np.array([above], np.int64),
        "split_trees_end": np.array([above + 1], np.int64),
        "split_neg_slope": np.array(-split.slope, np.float32),
        "split_offset": np.array(split.slope * split.threshold, np.float32),
        "split_move": move,
    })
    return [
        helper.make_node("Slice", ["reflectance", "split_band", "split_band_end", "split_axis1"],
                         ["split_x"]),  # [N, 1, H, W]
        helper.make_node("Transpose", ["split_x"], ["split_x_nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Mul", ["split_x_nhwc", "split_neg_slope"], ["split_scaled"]),
        helper.make_node("Add", ["split_scaled", "split_offset"], ["split_logit"]),
        helper.make_node("Sigmoid", ["split_logit"], ["split_w"]),
        helper.make_node("Slice", ["clc_mapped", "split_trees", "split_trees_end", "split_axis3"],
                         ["split_p_trees"]),  # [N, H, W, 1]
        helper.make_node("Mul", ["split_p_trees", "split_w"], ["split_p_moved"]),
        helper.make_node("Mul", ["split_p_moved", "split_move"], ["split_delta"]),
        helper.make_node("Add", ["clc_mapped", "split_delta"], ["clc_nhwc"]),
    ]


# tanh(softplus(x)) = n / (n + 2) with n = e^x (e^x + 2); above x = 20 it is 1 in float32,
# and clamping there keeps e^2x finite.
MISH_CLAMP = 20.0


def _fast_mish(graph: onnx.GraphProto) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    """The network's nodes with every ``Tanh(Softplus(x))`` (Mish's gate) as Exp and
    arithmetic: ONNX Runtime's Softplus kernel is scalar and took two thirds of the run time
    (profiled on 512 px windows); the rational form is the same function to float rounding
    (tests/inference/test_dynamicworld.py compares both graphs)."""
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    replaced: dict[int, list[onnx.NodeProto]] = {}
    dropped: set[int] = set()
    for node in graph.node:
        users = readers.get(node.output[0], [])
        if node.op_type != "Softplus" or len(users) != 1 or users[0].op_type != "Tanh":
            continue
        tanh, x, p = users[0], node.input[0], node.output[0]
        replaced[id(node)] = [
            helper.make_node("Min", [x, "mish_clamp"], [f"{p}/clamped"]),
            helper.make_node("Exp", [f"{p}/clamped"], [f"{p}/e"]),
            helper.make_node("Add", [f"{p}/e", "mish_two"], [f"{p}/e2"]),
            helper.make_node("Mul", [f"{p}/e", f"{p}/e2"], [f"{p}/n"]),
            helper.make_node("Add", [f"{p}/n", "mish_two"], [f"{p}/n2"]),
            helper.make_node("Div", [f"{p}/n", f"{p}/n2"], list(tanh.output)),
        ]
        dropped.add(id(tanh))
    body: list[onnx.NodeProto] = []
    for node in graph.node:
        if id(node) in dropped:
            continue
        body.extend(replaced.get(id(node), [node]))
    return body, {"mish_clamp": np.array(MISH_CLAMP, np.float32),
                  "mish_two": np.array(2.0, np.float32)}


# ONNX Runtime's antialiased linear Resize to half size (half_pixel) weighs four input pixels
# 1/8, 3/8, 3/8, 1/8 along each axis, the edge pixel standing in for the one outside the image
# (measured on impulses): a depthwise 4 x 4 convolution of stride 2 over the edge-padded input.
HALF_SIZE_TAPS = np.array([1.0, 3.0, 3.0, 1.0], np.float32) / 8.0


def _antialias_as_conv(net: onnx.ModelProto, body: list[onnx.NodeProto],
                       consts: dict[str, np.ndarray]) -> list[onnx.NodeProto]:
    """``body`` with the network's antialiased half-size Resize (NHWC, after the stem) as Pad
    and a depthwise Conv. Other runtimes ignore Resize's ``antialias`` (OpenVINO: 86 % of the
    real patches' classes kept; TensorRT has no such mode); the convolution is the same
    arithmetic for even heights and widths, which the pipeline's windows have
    (``InferenceSettings.window_size``), and near it for odd ones."""
    shapes = onnx.shape_inference.infer_shapes(net)
    channels = {v.name: v.type.tensor_type.shape.dim[-1].dim_value
                for v in shapes.graph.value_info}
    out: list[onnx.NodeProto] = []
    for node in body:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type != "Resize" or not attrs.get("antialias"):
            out.append(node)
            continue
        if attrs.get("mode") != b"linear" or attrs.get("coordinate_transformation_mode") \
                != b"half_pixel" or not channels.get(node.input[0]):
            raise ValueError(f"{node.name}: not the half-size linear Resize this rewrite knows")
        c, x, y = channels[node.input[0]], node.input[0], node.output[0]
        consts[f"{y}/taps"] = np.broadcast_to(np.outer(HALF_SIZE_TAPS, HALF_SIZE_TAPS),
                                              (c, 1, 4, 4)).copy()
        consts[f"{y}/pads"] = np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)
        out += [
            helper.make_node("Transpose", [x], [f"{y}/nchw"], perm=[0, 3, 1, 2]),
            helper.make_node("Pad", [f"{y}/nchw", f"{y}/pads"], [f"{y}/padded"], mode="edge"),
            helper.make_node("Conv", [f"{y}/padded", f"{y}/taps"], [f"{y}/half"], group=c,
                             kernel_shape=[4, 4], strides=[2, 2]),
            helper.make_node("Transpose", [f"{y}/half"], [y], perm=[0, 2, 3, 1]),
        ]
    return out


def spec(split: ForestSplit | None = FOREST_SPLIT) -> ModelSpec:
    codes = output_codes(split=split)
    return ModelSpec(
        name=NAME, version="1", input_name="reflectance", output_name="probabilities",
        input_bands=list(BANDS), output_classes=codes, window_size=512,
        input_units="top-of-atmosphere reflectance",
        architecture="fully convolutional network (Dynamic World, Brown et al. 2022)",
        description="Dynamic World's 9 classes (trained on 24,000 annotated real Sentinel-2 "
                    "L1C scenes) mapped onto CLC: " + ", ".join(
                        f"{m.dw_class} {m.clc_code}" for m in MAPPING)
                    + (f" ({split.below} where {split.band} < {split.threshold})"
                       if split else "") + f"; water at sea {MARINE_CODE}",
        hyperparameters={
            "source": f"{SOURCE_REPOSITORY} model/forward at {SOURCE_COMMIT}",
            "license": LICENCE, "attribution": ATTRIBUTION, "citation": CITATION,
            "doi": DOI, "network_sha256": NETWORK_SHA256,
            "dynamicworld_classes": list(CLASSES),
            "clc_mapping": {m.dw_class: m.clc_code for m in MAPPING},
            "forest_split": vars(split) if split else None,
            "reachable_classes": codes,
            "refinements": {COASTLINE: {"inland": 512, "marine": MARINE_CODE}},
            "preprocessing": "x = max(reflectance, 0) * 10000; x = log(x * 0.005 + 1); "
                             "x = (x - p30) / p70; x = exp(5x - 1) / (exp(5x - 1) + 1) "
                             "(in the graph)",
            "norm_percentiles": NORM_PERCENTILES.tolist(),
        },
        created="2022-06-09T00:00:00Z",
    )


def build(split: ForestSplit | None = FOREST_SPLIT) -> tuple[ModelSpec, onnx.ModelProto]:
    return spec(split), wrap(network(), split=split)
