"""s2cloudless (Sentinel Hub): the LightGBM cloud detector for L1C, run here and as ONNX.

The model is the text file in the s2cloudless wheel
(``s2cloudless/models/pixel_s2_cloud_detector_lightGBM_v0.1.txt``, CC-BY-SA-4.0); it is read
from the installed package, never committed. Input: ten L1C bands, top-of-atmosphere
reflectance (``DN / 10000`` with the baseline offset removed), in :data:`BANDS` order. It is a
per-pixel classifier: the cloud *probability* is the booster's output; the cloud *mask* is
s2cloudless's post-processing of the probability image (average over a disk, threshold,
dilate with a disk), :func:`cloud_mask` here.

For Triton the booster is converted to an ONNX tree ensemble (onnxmltools) and wrapped so it
takes and returns images like every other repository model: ``[N, 10, H, W]`` in,
``[N, 2, H, W]`` (clear, cloud) out. The mask's neighbourhood steps are not in the graph:
they need the whole image (windows would cut the disks), so they run after stitching.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from inference.errors import ModelNotFoundError

if TYPE_CHECKING:
    import lightgbm

PACKAGE = "s2cloudless"
MODEL_FILE = "models/pixel_s2_cloud_detector_lightGBM_v0.1.txt"
BANDS = ("B01", "B02", "B04", "B05", "B08", "B8A", "B09", "B10", "B11", "B12")
# Of the 13 L1C bands in ESA's order (B01..B08, B8A, B09..B12): the ten the model reads.
L1C_ORDER = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
             "B11", "B12")
BAND_INDEX = tuple(L1C_ORDER.index(b) for b in BANDS)
# s2cloudless's own defaults of S2PixelCloudDetector (1.2.x and later).
THRESHOLD, AVERAGE_OVER, DILATION_SIZE = 0.4, 1, 1
# LightGBM's own prediction early stopping (binary objective): every EARLY_STOP_FREQ trees a
# pixel whose running raw score is beyond +-EARLY_STOP_MARGIN stops there. A margin of 4 is a
# probability below 0.018 or above 0.982, far from the 0.4 threshold, so only pixels the
# remaining trees could not bring near the threshold stop: 8x less booster work on a cloudy
# scene, 99.997 % of the mask unchanged (docs/benchmarks.md).
EARLY_STOP_FREQ, EARLY_STOP_MARGIN = 10, 4.0
ONNX_OPSET = 15  # the highest onnxmltools 1.16 converts LightGBM to


def model_file() -> Path:
    spec = find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"the {PACKAGE} package is not installed (make install)")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.exists():
        raise ModelNotFoundError(f"{path} is missing: install {PACKAGE}==1.7.3 (make install)")
    return path


@cache
def _booster() -> lightgbm.Booster:
    import lightgbm

    return lightgbm.Booster(model_file=str(model_file()))  # 11 MB of text: parse once


def probabilities(bands: np.ndarray, early_stop_margin: float | None = None) -> np.ndarray:
    """Cloud probability of ``[..., 10]`` band values (last axis in :data:`BANDS` order).

    With ``early_stop_margin`` a pixel stops once its raw score is that far from 0 (checked
    every :data:`EARLY_STOP_FREQ` trees): exact near the decision, approximate far from it.
    """
    flat = bands.reshape(-1, len(BANDS))
    if early_stop_margin is None:
        return np.asarray(_booster().predict(flat)).reshape(bands.shape[:-1])
    return np.asarray(_booster().predict(
        flat, pred_early_stop=True, pred_early_stop_freq=EARLY_STOP_FREQ,
        pred_early_stop_margin=early_stop_margin)).reshape(bands.shape[:-1])


def disk(radius: int) -> np.ndarray:
    """The digital disk ``x^2 + y^2 <= r^2`` (s2cloudless's structuring element)."""
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return x * x + y * y <= radius * radius


def cloud_mask(probs: np.ndarray, threshold: float = THRESHOLD,
               average_over: int = AVERAGE_OVER, dilation_size: int = DILATION_SIZE
               ) -> np.ndarray:
    """int8 cloud mask (1 = cloud) of one ``[H, W]`` probability image, as s2cloudless does."""
    from scipy import ndimage

    p = np.asarray(probs, dtype=np.float64)
    if average_over > 0:
        kernel = disk(average_over).astype(np.float64)
        p = ndimage.convolve(p, kernel / kernel.sum(), mode="reflect")
    mask = p > threshold
    if dilation_size > 0:
        mask = ndimage.binary_dilation(mask, structure=disk(dilation_size))
    return mask.astype(np.int8)


def onnx_model() -> onnx.ModelProto:
    """The booster as an image model: ``reflectance`` [N, 10, H, W] -> ``probabilities``."""
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    trees = convert_lightgbm(_booster(), initial_types=[("pixels", FloatTensorType([None, 10]))],
                             zipmap=False, target_opset=ONNX_OPSET)
    probs = trees.graph.output[1].name  # [M, 2] (clear, cloud); output 0 is the label
    nodes = list(trees.graph.node)
    for node in nodes:  # the converter's names may clash with ours ("probabilities")
        node.output[:] = [f"trees_{o}" for o in node.output]
        node.input[:] = [f"trees_{i}" if i != "pixels" and not _is_init(trees, i) else i
                         for i in node.input]
    probs = f"trees_{probs}"
    # Images around the per-pixel ensemble: NCHW -> NHWC -> [M, 10], and back.
    before = [
        helper.make_node("Transpose", ["reflectance"], ["nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["nhwc", "flat_shape"], ["pixels"]),
        helper.make_node("Shape", ["nhwc"], ["nhwc_shape"]),
        helper.make_node("Slice", ["nhwc_shape", "zero", "three"], ["nhw"]),
        helper.make_node("Concat", ["nhw", "two"], ["out_shape"], axis=0),
    ]
    after = [
        helper.make_node("Reshape", [probs, "out_shape"], ["probs_nhwc"]),
        helper.make_node("Transpose", ["probs_nhwc"], ["probabilities"], perm=[0, 3, 1, 2]),
    ]
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
              (("flat_shape", [-1, len(BANDS)]), ("zero", [0]), ("three", [3]), ("two", [2]))]
    graph = helper.make_graph(
        before + nodes + after, "s2cloudless",
        [helper.make_tensor_value_info("reflectance", TensorProto.FLOAT,
                                       ["N", len(BANDS), "H", "W"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        initializer=consts + list(trees.graph.initializer))
    # The converter declares only the default-domain opset its own nodes need; ours need more.
    opsets = [helper.make_opsetid("", ONNX_OPSET)] + [o for o in trees.opset_import if o.domain]
    model = helper.make_model(graph, opset_imports=opsets,
                              producer_name="earthsignature (onnxmltools)")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _is_init(model: onnx.ModelProto, name: str) -> bool:
    return any(t.name == name for t in model.graph.initializer)


def cloud_mask_at_20m(bands: np.ndarray, threshold: float = THRESHOLD,
                      average_over: int = AVERAGE_OVER, dilation_size: int = DILATION_SIZE,
                      early_stop_margin: float | None = EARLY_STOP_MARGIN) -> np.ndarray:
    """The s2cloudless mask of a ``[H, W, 10]`` 10 m image, the booster run at 20 m.

    Six of the ten bands are 20 m or 60 m bands: at 10 m they repeat over each 2 x 2 block,
    and only B02, B04 and B08 differ within it. The probability is computed once per block
    (on the block's mean), a quarter of the booster's work, and repeated onto the 10 m grid,
    where the neighbourhood steps (:func:`cloud_mask`) run as s2cloudless runs them. The mask
    differs from the per-pixel one only where a block straddles the threshold (cloud edges).
    The booster stops early on clear-cut pixels (:data:`EARLY_STOP_MARGIN`; ``None``: all
    trees for every block).
    """
    h, w = bands.shape[:2]
    h2, w2 = -(-h // 2), -(-w // 2)
    padded = np.pad(bands, ((0, 2 * h2 - h), (0, 2 * w2 - w), (0, 0)), mode="edge")
    blocks = padded.reshape(h2, 2, w2, 2, -1).mean(axis=(1, 3), dtype=np.float32)
    p20 = probabilities(blocks, early_stop_margin).astype(np.float32)
    p10 = np.repeat(np.repeat(p20, 2, axis=0), 2, axis=1)[:h, :w]
    return cloud_mask(p10, threshold, average_over, dilation_size)
