"""STAC MLM (machine-learning model extension, v1.5) documents of the repository's models.

Each model version carries ``mlm.json``: a STAC 1.1 item whose properties hold the MLM fields
(``mlm:name``, ``mlm:architecture``, ``mlm:tasks``, ``mlm:framework``, ``mlm:input``,
``mlm:output`` with ``classification:classes``, ``mlm:hyperparameters``) and whose ``model``
asset (role ``mlm:model``) is the ONNX file beside it. Input bands are named in the STAC 1.1
``bands`` property, as the MLM schema requires when ``mlm:input`` names bands. The pipeline's
:class:`ModelSpec` is read back from that document alone, so the document is the contract.

Output channel *i* is ``classification:classes[i]``; its ``value`` is the raster value the
class grid stores (CLC grid code 1-44, or the cloud-mask value), and the hyperparameter
``output_codes`` lists the CLC codes (or cloud-mask values) per channel.
"""

from __future__ import annotations

from typing import Any

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from catalog_schemas.schema_uris import MLM_SCHEMA
from inference.errors import InferenceError
from inference.spec import CLOUDMASK, LANDCOVER, ModelSpec

TASKS = ["semantic-segmentation"]
# Sentinel-2 band -> STAC common name (eo:common_name), for the item's ``bands``.
COMMON_NAMES = {"B01": "coastal", "B02": "blue", "B03": "green", "B04": "red",
                "B05": "rededge071", "B06": "rededge075", "B07": "rededge078", "B08": "nir",
                "B8A": "nir08", "B09": "nir09", "B10": "cirrus", "B11": "swir16",
                "B12": "swir22", "SCL": None}
HYPER_KEYS = ("window_size", "input_units", "output_kind", "output_codes", "description")


def mlm_item(spec: ModelSpec, framework_version: str, onnx_file: str = "model.onnx"
             ) -> dict[str, Any]:
    """The MLM document of one model version (a STAC item, as a JSON-ready dict)."""
    n_bands, n_out, size = len(spec.input_bands), len(spec.output_classes), spec.window_size
    hyper = {"window_size": size, "input_units": spec.input_units,
             "output_kind": spec.output_kind, "output_codes": list(spec.output_classes),
             "description": spec.description, **spec.hyperparameters}
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [MLM_SCHEMA],
        "id": f"{spec.name}-v{spec.version}",
        "geometry": None,
        "properties": {
            "datetime": spec.created,
            "title": f"{spec.name} version {spec.version}",
            "description": spec.description or spec.name,
            "version": spec.version,
            "bands": [_band(b) for b in spec.input_bands],
            "mlm:name": spec.name,
            "mlm:architecture": spec.architecture,
            "mlm:tasks": TASKS,
            "mlm:framework": spec.framework,
            "mlm:framework_version": framework_version,
            "mlm:accelerator": "amd64",
            "mlm:accelerator_constrained": False,
            "mlm:input": [{
                "name": spec.input_name,
                "bands": list(spec.input_bands),
                "input": {"shape": [-1, n_bands, size, size],
                          "dim_order": ["batch", "bands", "height", "width"],
                          "data_type": "float32"},
                "description": f"{spec.input_units} of {', '.join(spec.input_bands)}",
                "value_scaling": spec.value_scaling,
                "resize_type": None,
                "pre_processing_function": None,
            }],
            "mlm:output": [{
                "name": spec.output_name,
                "tasks": TASKS,
                "result": {"shape": [-1, n_out, size, size],
                           "dim_order": ["batch", "class", "height", "width"],
                           "data_type": "float32"},
                "description": "per-class probabilities; argmax is the class, max the confidence",
                "classification:classes": _classes(spec),
                "post_processing_function": None,
            }],
            "mlm:hyperparameters": hyper,
        },
        "assets": {
            "model": {
                "href": f"./{onnx_file}",
                "type": "application/octet-stream; framework=onnx; profile=onnx",
                "title": f"{spec.name} {spec.version} as ONNX",
                "roles": ["mlm:model"],
                "mlm:artifact_type": "onnx",
            },
        },
        "links": [],
    }


def spec_from_mlm(doc: dict[str, Any]) -> ModelSpec:
    """Read a :class:`ModelSpec` back from an MLM document."""
    try:
        props = doc["properties"]
        model_in, model_out = props["mlm:input"][0], props["mlm:output"][0]
        hyper = dict(props["mlm:hyperparameters"])
        extra = {k: v for k, v in hyper.items() if k not in HYPER_KEYS}
        return ModelSpec(
            name=props["mlm:name"], version=str(props["version"]),
            input_name=model_in["name"], output_name=model_out["name"],
            input_bands=[b if isinstance(b, str) else b["name"] for b in model_in["bands"]],
            output_classes=[int(c) for c in hyper["output_codes"]],
            window_size=int(hyper["window_size"]),
            value_scaling=model_in.get("value_scaling"),
            input_units=hyper["input_units"], output_kind=hyper["output_kind"],
            framework=props["mlm:framework"], architecture=props["mlm:architecture"],
            description=hyper.get("description", ""), hyperparameters=extra,
            created=props["datetime"],
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InferenceError(f"not a usable MLM document ({exc!r} missing or malformed)"
                             ) from exc


def _band(name: str) -> dict[str, Any]:
    band: dict[str, Any] = {"name": name}
    if COMMON_NAMES.get(name):
        band["eo:common_name"] = COMMON_NAMES[name]
    return band


def _classes(spec: ModelSpec) -> list[dict[str, Any]]:
    if spec.output_kind == LANDCOVER:
        out = []
        for code in spec.output_classes:
            c = clc.by_clc_code(code)
            out.append({"value": c.grid_code, "name": f"clc-{code}",
                        "description": f"CLC {code}: {c.name}", "color_hint": c.hex_color})
        return out
    if spec.output_kind == CLOUDMASK:
        by_value = {c.value: c for c in cm.CLOUD_CLASSES}
        return [{"value": v, "name": by_value[v].name, "description": by_value[v].description,
                 "color_hint": by_value[v].hex_color} for v in spec.output_classes]
    raise InferenceError(f"unknown output kind {spec.output_kind!r} of {spec.ref}")
