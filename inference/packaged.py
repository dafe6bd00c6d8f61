"""Cloud models taken from installed packages when the repository is built (never committed).

- ``ukis-csmask-{4b,6b}-{l1c,l2a}``: DLR's cloud and cloud-shadow U-Nets (EfficientNet-B4
  encoder) from the ``ukis-csmask`` wheel (1.0.0, Apache-2.0), ``ukis_csmask/model_*.onnx``
  with the band statistics of the JSON beside each. The graph answers logits for 256 x 256
  tiles; the copy gets a Softmax (the pipeline reads probabilities) and symbolic height and
  width (the network is fully convolutional: any multiple of 32 works).
- ``s2cloudless``: Sentinel Hub's LightGBM pixel classifier for L1C, converted to ONNX
  (``inference/s2cloudless.py``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.util import find_spec
from pathlib import Path

import onnx
from onnx import helper

from catalog_schemas import cloudmask as cm
from inference import s2cloudless
from inference.errors import ModelNotFoundError
from inference.spec import CLOUDMASK, ModelSpec

UKIS = "ukis_csmask"
UKIS_VARIANTS = ("4b-l1c", "4b-l2a", "6b-l1c", "6b-l2a")
UKIS_BANDS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir16": "B11",
              "swir22": "B12"}
UKIS_CLASSES = [cm.CLEAR, cm.CLOUD, cm.SHADOW]  # the network's classes 0, 1, 2
UNITS = {"l1c": "top-of-atmosphere reflectance", "l2a": "reflectance"}


def package_dir(module: str) -> Path:
    spec = find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"the {module} package is not installed (make install)")
    return Path(next(iter(spec.submodule_search_locations)))


def installed(module: str) -> bool:
    return find_spec(module) is not None


def ukis_csmask(variant: str) -> tuple[ModelSpec, onnx.ModelProto]:
    bands_level = variant.split("-")
    if variant not in UKIS_VARIANTS:
        raise ModelNotFoundError(f"no ukis-csmask variant {variant!r} ({UKIS_VARIANTS})")
    n_bands, level = bands_level
    stem = package_dir(UKIS) / f"model_{n_bands}_{level}"
    config = json.loads(stem.with_suffix(".json").read_text())
    stats = config["data"]["dataset_statistics"]
    means, stds = stats["img"]
    model = onnx.load(str(stem.with_suffix(".onnx")))
    graph = model.graph
    for value in (graph.input[0], graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        for i, name in ((0, "N"), (2, "H"), (3, "W")):
            dims[i].Clear()
            dims[i].dim_param = name
    del graph.value_info[:]  # shapes inferred for 256 x 256 would contradict other sizes
    logits = graph.output[0].name
    graph.node.append(helper.make_node("Softmax", [logits], ["probabilities"], axis=1))
    graph.output[0].name = "probabilities"
    onnx.checker.check_model(model)
    spec = ModelSpec(
        name=f"ukis-csmask-{variant}", version="1", input_name=graph.input[0].name,
        output_name="probabilities", input_bands=[UKIS_BANDS[b] for b in stats["band_names"]],
        output_classes=UKIS_CLASSES, window_size=int(config["data"]["target_size"][0]),
        value_scaling=[{"type": "z-score", "mean": m, "stddev": s}
                       for m, s in zip(means, stds, strict=True)],
        input_units=UNITS[level], output_kind=CLOUDMASK,
        architecture=f"U-Net ({config['model']['encoder_name']} encoder)",
        description=f"ukis-csmask {config['model']['version']}: clouds and cloud shadows "
                    f"({level.upper()}, {n_bands[0]} bands; about 30 m recommended)",
        hyperparameters={"source": "ukis-csmask==1.0.0 (Apache-2.0)",
                         "product_level": level})
    return spec, model


def s2cloudless_model() -> tuple[ModelSpec, onnx.ModelProto]:
    spec = ModelSpec(
        name="s2cloudless", version="1", input_name="reflectance", output_name="probabilities",
        input_bands=list(s2cloudless.BANDS), output_classes=[cm.CLEAR, cm.CLOUD],
        window_size=512, input_units="top-of-atmosphere reflectance",
        output_kind=CLOUDMASK, architecture="gradient-boosted trees (LightGBM)",
        description="s2cloudless pixel cloud probability (L1C; run at 60-160 m); argmax is "
                    "p > 0.5, the s2cloudless mask is inference.s2cloudless.cloud_mask",
        hyperparameters={"source": "s2cloudless==1.7.3 (CC-BY-SA-4.0), converted with "
                                   "onnxmltools", "mask_threshold": s2cloudless.THRESHOLD})
    return spec, _converted()


@cache
def _converted() -> onnx.ModelProto:
    # The conversion takes about 15 s and always gives the same graph: once per process.
    return s2cloudless.onnx_model()
