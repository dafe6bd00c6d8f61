"""The reference models: which exist, and how each version is built (from code or a package).

``clc-spectral`` 1 is the skeleton's rule model, 2 its refinement (``spectral_v2``), 3 adds
burnt areas from SWIR (``spectral_v3``: five input bands, eleven classes);
``clc-dynamicworld`` is Google's Dynamic World network (committed as ONNX) mapped onto CLC
(``dynamicworld``); ``cloud-scl`` maps L2A's scene classification onto the cloud-mask classes
as an ONNX lookup, so Triton serves it like any other model. The ``ukis-csmask-*`` and
``s2cloudless`` models are taken from their installed packages (``packaged.py``): buildable
only where those are installed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from catalog_schemas import cloudmask as cm
from inference import dynamicworld, packaged, spectral, spectral_v2, spectral_v3
from inference.errors import ModelNotFoundError
from inference.spec import CLOUDMASK, ModelSpec

Builder = Callable[[], tuple[ModelSpec, onnx.ModelProto]]


def _clc_spectral_1() -> tuple[ModelSpec, onnx.ModelProto]:
    spec = ModelSpec(
        name="clc-spectral", version="1", input_name=spectral.INPUT_NAME,
        output_name=spectral.OUTPUT_NAME, input_bands=list(spectral.INPUT_BANDS),
        output_classes=spectral.OUTPUT_CLASSES, window_size=512,
        description="Soft decision tree on brightness, NDWI and NDVI (7 CLC classes reachable)",
        hyperparameters={"reachable_classes": list(spectral.LEAF_CLASSES)},
    )
    return spec, spectral.build_spectral_model()


def _clc_spectral_2() -> tuple[ModelSpec, onnx.ModelProto]:
    spec = ModelSpec(
        name="clc-spectral", version="2", input_name=spectral.INPUT_NAME,
        output_name=spectral.OUTPUT_NAME, input_bands=list(spectral.INPUT_BANDS),
        output_classes=spectral.OUTPUT_CLASSES, window_size=512,
        description="Soft decision tree on brightness, NDWI, NDVI and yellowness "
                    "(10 CLC classes reachable: bare rock, sand, sparse vegetation added)",
        hyperparameters={"reachable_classes": list(spectral_v2.LEAF_CLASSES)},
    )
    return spec, spectral_v2.build_spectral_v2_model()


def _clc_spectral_3() -> tuple[ModelSpec, onnx.ModelProto]:
    spec = ModelSpec(
        name="clc-spectral", version="3", input_name=spectral.INPUT_NAME,
        output_name=spectral.OUTPUT_NAME, input_bands=list(spectral_v3.INPUT_BANDS),
        output_classes=list(spectral_v3.V3_OUTPUT_CLASSES), window_size=512,
        description="Soft decision tree on brightness, NDWI, NDVI, yellowness and the burn "
                    "ratio NBR (B08, B12) (11 CLC classes reachable: burnt areas added)",
        hyperparameters={"reachable_classes": list(spectral_v3.LEAF_CLASSES)},
    )
    return spec, spectral_v3.build_spectral_v3_model()


CLOUD_OUTPUTS = [c.value for c in cm.CLOUD_CLASSES]


def _cloud_scl_1() -> tuple[ModelSpec, onnx.ModelProto]:
    """One-hot lookup ``SCL -> cloud class`` as a graph: Cast, Clip, Gather, Transpose.

    The table is ``catalog_schemas.cloudmask.SCL_TO_CLOUDMASK``, the pipeline's own. SCL 0/1
    (no data, defective) rows are all zero: no class has any probability, which segmentation
    reads as nodata.
    """
    table = np.zeros((len(cm.SCL_TO_CLOUDMASK), len(CLOUD_OUTPUTS)), np.float32)
    for scl, value in enumerate(cm.SCL_TO_CLOUDMASK):
        if value != cm.NODATA:
            table[scl, CLOUD_OUTPUTS.index(value)] = 1.0
    nodes = [
        helper.make_node("Cast", ["scl"], ["scl_i"], to=TensorProto.INT64),
        helper.make_node("Clip", ["scl_i", "lo", "hi"], ["idx"]),
        helper.make_node("Squeeze", ["idx", "axis1"], ["idx3"]),  # [N, H, W]
        helper.make_node("Gather", ["table", "idx3"], ["onehot"], axis=0),  # [N, H, W, C]
        helper.make_node("Transpose", ["onehot"], ["probabilities"], perm=[0, 3, 1, 2]),
    ]
    inits = [numpy_helper.from_array(table, "table"),
             numpy_helper.from_array(np.array(0, np.int64), "lo"),
             numpy_helper.from_array(np.array(len(cm.SCL_TO_CLOUDMASK) - 1, np.int64), "hi"),
             numpy_helper.from_array(np.array([1], np.int64), "axis1")]
    graph = helper.make_graph(
        nodes, "cloud_scl",
        [helper.make_tensor_value_info("scl", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                       ["N", len(CLOUD_OUTPUTS), "H", "W"])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", spectral.OPSET)],
                              producer_name="earthsignature")
    model.ir_version = 8
    onnx.checker.check_model(model)
    spec = ModelSpec(
        name="cloud-scl", version="1", input_name="scl", output_name="probabilities",
        input_bands=["SCL"], output_classes=CLOUD_OUTPUTS, window_size=512,
        input_units="SCL class value", output_kind=CLOUDMASK, architecture="lookup table",
        description="L2A scene classification (Sen2Cor SCL) mapped onto the cloud-mask classes",
        hyperparameters={"scl_to_cloudmask": list(cm.SCL_TO_CLOUDMASK)},
    )
    return spec, model


BUILDERS: dict[str, dict[str, Builder]] = {
    "clc-spectral": {"1": _clc_spectral_1, "2": _clc_spectral_2, "3": _clc_spectral_3},
    # Dynamic World's network, committed as converted ONNX (inference/pretrained/dynamicworld).
    dynamicworld.NAME: {"1": dynamicworld.build},
    "cloud-scl": {"1": _cloud_scl_1},
    **{f"ukis-csmask-{v}": {"1": partial(packaged.ukis_csmask, v)}
       for v in packaged.UKIS_VARIANTS},
    "s2cloudless": {"1": packaged.s2cloudless_model},
}
# Packages a model is taken from: without them it cannot be built (and is not listed built).
NEEDS: dict[str, tuple[str, ...]] = {
    **{f"ukis-csmask-{v}": (packaged.UKIS,) for v in packaged.UKIS_VARIANTS},
    "s2cloudless": ("s2cloudless", "lightgbm", "onnxmltools"),
}
REFERENCE_MODELS: dict[str, list[str]] = {k: list(v) for k, v in BUILDERS.items()}
# The version a bare name means when the settings name none (else the highest): versions 2 and
# 3 of clc-spectral are candidates until measured on real pixels; pin one to promote it.
DEFAULT_ACTIVE: dict[str, str] = {"clc-spectral": "1"}


def versions_of(name: str) -> list[str]:
    return REFERENCE_MODELS.get(name, [])


def buildable(name: str) -> bool:
    """Generated from code, or taken from packages that are installed here."""
    return name in BUILDERS and all(packaged.installed(m) for m in NEEDS.get(name, ()))


def build(name: str, version: str) -> tuple[ModelSpec, onnx.ModelProto]:
    try:
        builder = BUILDERS[name][version]
    except KeyError:
        raise ModelNotFoundError(f"no reference model {name}:{version}") from None
    return builder()
