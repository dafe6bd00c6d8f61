"""The model repository, in Triton's layout, with the reference models built into it.

    <repo>/<model>/config.pbtxt
    <repo>/<model>/<version>/model.onnx
    <repo>/<model>/<version>/model.json   (what the pipeline needs: bands, scaling, classes)

Reference models are generated from code (nothing is downloaded), deterministically, so any
worker host can rebuild an identical repository.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from catalog_schemas import clc
from inference import spectral
from inference.errors import ModelNotFoundError

REFERENCE_MODELS = {"clc-spectral": "1"}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str
    input_name: str
    output_name: str
    input_bands: list[str]
    input_scaling: str  # "reflectance": surface reflectance, scale/offset of the product applied
    output_classes: list[int]  # CLC code of each output channel
    window_size: int
    framework: str = "onnx"

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class ResolvedModel:
    spec: ModelSpec
    onnx_path: Path


def parse_model_ref(ref: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME:VERSION``."""
    name, _, version = ref.partition(":")
    if not name:
        raise ModelNotFoundError(f"empty model name in {ref!r}")
    return name, version or None


class ModelRepository:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def versions(self, name: str) -> list[str]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir() if (p / "model.onnx").exists()]
        return sorted(found, key=lambda v: (len(v), v))

    def resolve(self, ref: str) -> ResolvedModel:
        name, version = parse_model_ref(ref)
        if name in REFERENCE_MODELS and not self.versions(name):
            self.build_reference(name)
        available = self.versions(name)
        if not available:
            raise ModelNotFoundError(f"model {name!r} is not in the repository {self.root}")
        version = version or available[-1]
        if version not in available:
            raise ModelNotFoundError(
                f"model {name!r} has no version {version!r} in {self.root} (has {available})")
        folder = self.root / name / version
        spec = ModelSpec(**json.loads((folder / "model.json").read_text()))
        return ResolvedModel(spec=spec, onnx_path=folder / "model.onnx")

    def build_reference(self, name: str) -> ResolvedModel:
        if name != "clc-spectral":
            raise ModelNotFoundError(f"no reference model named {name!r}")
        version = REFERENCE_MODELS[name]
        spec = ModelSpec(
            name=name, version=version, input_name=spectral.INPUT_NAME,
            output_name=spectral.OUTPUT_NAME, input_bands=list(spectral.INPUT_BANDS),
            input_scaling="reflectance",
            output_classes=[c.clc_code for c in clc.clc_classes()], window_size=512,
        )
        folder = self.root / name / version
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(folder / "model.onnx", spectral.build_spectral_model().SerializeToString())
        _atomic_write(folder / "model.json", json.dumps(asdict(spec), indent=2).encode())
        _atomic_write(self.root / name / "config.pbtxt", triton_config(spec).encode())
        return ResolvedModel(spec=spec, onnx_path=folder / "model.onnx")


def triton_config(spec: ModelSpec, max_batch_size: int = 0) -> str:
    """Triton's model configuration; batching is explicit in the graph's dynamic N axis."""
    n_bands, n_classes = len(spec.input_bands), len(spec.output_classes)
    return f"""name: "{spec.name}"
backend: "onnxruntime"
max_batch_size: {max_batch_size}
input [{{ name: "{spec.input_name}" data_type: TYPE_FP32 dims: [-1, {n_bands}, -1, -1] }}]
output [{{ name: "{spec.output_name}" data_type: TYPE_FP32 dims: [-1, {n_classes}, -1, -1] }}]
"""


def _atomic_write(path: Path, data: bytes) -> None:
    # Several workers may build the same reference model at once: never expose a half file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
