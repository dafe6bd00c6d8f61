"""The model repository, in Triton's layout, with an MLM document per model version.

    <repo>/<model>/config.pbtxt          (Triton: inputs, outputs, batching, all versions;
                                          see triton_config for versions of unlike shapes)
    <repo>/<model>/<version>/model.onnx
    <repo>/<model>/<version>/mlm.json    (STAC MLM v1.5: bands, scaling, classes, window)

Several versions live side by side; which one a bare model name means is the *active* version
(a setting, ``EARTHSIG_INFERENCE_ACTIVE_VERSIONS``), else the reference default
(``reference.DEFAULT_ACTIVE``), else the highest. Reference models are
generated from code or copied from installed packages (nothing is downloaded), so any worker
host can rebuild an identical repository; building is an explicit step
(``build_references``, ``earthsig models build``), never a side effect of a lookup.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import onnx

from inference import reference
from inference.errors import ModelNotFoundError
from inference.mlm import mlm_item, spec_from_mlm
from inference.spec import ModelSpec

MLM_FILE = "mlm.json"
ONNX_FILE = "model.onnx"
REFERENCE_MODELS = reference.REFERENCE_MODELS
DEFAULT_MAX_BATCH = 16


@dataclass(frozen=True)
class ResolvedModel:
    spec: ModelSpec
    onnx_path: Path

    @property
    def mlm_path(self) -> Path:
        return self.onnx_path.with_name(MLM_FILE)


def parse_model_ref(ref: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME:VERSION``."""
    name, _, version = ref.partition(":")
    if not name:
        raise ModelNotFoundError(f"empty model name in {ref!r}")
    return name, version or None


def _version_key(v: str) -> tuple[int, str]:
    return (len(v), v)  # Triton's versions are integers: "10" sorts after "9"


class ModelRepository:
    def __init__(self, root: Path, active_versions: Mapping[str, str] | None = None,
                 max_batch_size: int = DEFAULT_MAX_BATCH, *, triton_device: str = "cpu",
                 accelerated: Iterable[str] = ()) -> None:
        self.root = Path(root)
        self.active_versions = dict(active_versions or {})
        self.max_batch_size = max_batch_size
        # What config.pbtxt tells NVIDIA's Triton: its device, and the models (the networks)
        # that get an accelerator there (OpenVINO on a CPU, TensorRT on a GPU).
        self.triton_device = triton_device
        self.accelerated = frozenset(accelerated)

    @classmethod
    def from_settings(cls, settings: object) -> ModelRepository:
        """From an ``InferenceSettings`` (typed loosely: settings import nothing from here)."""
        runtimes = getattr(settings, "model_runtimes", {})
        return cls(getattr(settings, "model_repository"),  # noqa: B009
                   getattr(settings, "active_versions", None),
                   getattr(settings, "triton_max_batch_size", DEFAULT_MAX_BATCH),
                   triton_device=getattr(settings, "triton_device", "cpu"),
                   accelerated=[m for m, r in runtimes.items() if r == "openvino"])

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    def versions(self, name: str) -> list[str]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir()
                 if p.name.isdigit() and (p / ONNX_FILE).exists() and (p / MLM_FILE).exists()]
        return sorted(found, key=_version_key)

    def active_version(self, name: str) -> str | None:
        available = self.versions(name)
        wanted = self.active_versions.get(name)
        default = reference.DEFAULT_ACTIVE.get(name)
        if wanted is None and default in available:
            return default
        if wanted is not None:
            if wanted not in available:
                raise ModelNotFoundError(
                    f"active version {wanted!r} of model {name!r} is not in {self.root} "
                    f"(has {available})")
            return wanted
        return available[-1] if available else None

    def resolve(self, ref: str) -> ResolvedModel:
        """The model ``NAME[:VERSION]`` as the repository holds it (the active version when
        none named). Reads only: a reference model not built yet is not found
        (``build_references``, ``earthsig models build``)."""
        name, version = parse_model_ref(ref)
        available = self.versions(name)
        if not available:
            raise ModelNotFoundError(f"model {name!r} is not in the repository {self.root}"
                                     f"{_how_to_build(name)}")
        version = version or self.active_version(name)
        if version not in available:
            raise ModelNotFoundError(
                f"model {name!r} has no version {version!r} in {self.root} (has {available})"
                f"{_how_to_build(name) if version in reference.versions_of(name) else ''}")
        folder = self.root / name / str(version)
        spec = spec_from_mlm(json.loads((folder / MLM_FILE).read_text()))
        return ResolvedModel(spec=spec, onnx_path=folder / ONNX_FILE)

    def build_reference(self, name: str, version: str | None = None) -> ResolvedModel:
        """Write one reference model version (the newest when none named)."""
        versions = reference.versions_of(name)
        if not versions:
            raise ModelNotFoundError(f"no reference model named {name!r}")
        version = version or versions[-1]
        spec, model = reference.build(name, version)
        return self.add_version(spec, model)

    def build_all_references(self) -> list[ResolvedModel]:
        """Write every version of every reference model buildable here (again, if there)."""
        return self.build_references()

    def build_references(self, names: Iterable[str] | None = None, *,
                         only_missing: bool = False, stale_too: bool = False
                         ) -> list[ResolvedModel]:
        """Write the versions of the reference models ``names`` (model names or refs; default:
        every one buildable here) - with ``only_missing``, only those the repository lacks,
        and with ``stale_too`` also those whose stored graph is not what the definition builds
        now (a served graph changed within a version, e.g. clc-dynamicworld's downsampling
        for OpenVINO); return what was written.

        The explicit step that makes a repository servable (``earthsig models build``, an
        infer-stage worker at start, the local stack): ``resolve`` never builds.
        """
        wanted = list(REFERENCE_MODELS) if names is None else [
            parse_model_ref(n)[0] for n in names]
        built = []
        for name in dict.fromkeys(wanted):
            if not reference.versions_of(name):
                raise ModelNotFoundError(f"no reference model named {name!r}")
            if not reference.buildable(name):
                if names is not None:
                    raise ModelNotFoundError(f"reference model {name!r} cannot be built here: "
                                             "the package it comes from is not installed")
                continue
            have = self.versions(name) if only_missing else []
            for version in reference.versions_of(name):
                if version not in have:
                    built.append(self.build_reference(name, version))
                elif stale_too and (fresh := self._rebuilt_if_stale(name, version)):
                    built.append(fresh)
        return built

    def _rebuilt_if_stale(self, name: str, version: str) -> ResolvedModel | None:
        """Build ``name:version`` and write it where the stored graph differs."""
        spec, model = reference.build(name, version)
        stored = self.root / name / version / ONNX_FILE
        if stored.read_bytes() == model.SerializeToString():
            return None
        return self.add_version(spec, model)

    def add_version(self, spec: ModelSpec, model: onnx.ModelProto) -> ResolvedModel:
        """Write ``model.onnx`` + ``mlm.json`` of one version and the model's config.pbtxt."""
        folder = self.root / spec.name / spec.version
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(folder / ONNX_FILE, model.SerializeToString())
        doc = mlm_item(spec, framework_version=_onnx_version())
        _atomic_write(folder / MLM_FILE, json.dumps(doc, indent=2).encode())
        _atomic_write(self.root / spec.name / "config.pbtxt",
                      triton_config(self.specs(spec.name), self.max_batch_size,
                                    device=self.triton_device,
                                    accelerated=spec.name in self.accelerated).encode())
        return ResolvedModel(spec=spec, onnx_path=folder / ONNX_FILE)

    def specs(self, name: str) -> list[ModelSpec]:
        """The spec of every version of ``name`` in the repository, lowest first (from the MLM
        documents; nothing is built)."""
        return [spec_from_mlm(json.loads((self.root / name / v / MLM_FILE).read_text()))
                for v in self.versions(name)]


def _how_to_build(name: str) -> str:
    if not reference.versions_of(name):
        return ""
    return f": a reference model, build it with `earthsig models build {name}`"


def triton_config(specs: ModelSpec | Sequence[ModelSpec],
                  max_batch_size: int = DEFAULT_MAX_BATCH, backend: str = "onnxruntime", *,
                  device: str = "cpu", accelerated: bool = False) -> str:
    """Triton's model configuration for all versions of one model, ``specs`` (or one version).

    ``device``: the instance kind (``gpu`` for NVIDIA's container on a GPU node). With
    ``accelerated`` (the networks: ``model_runtimes`` names them) NVIDIA's ONNX Runtime backend
    runs the model through OpenVINO on a CPU, as the pipeline does in process, or TensorRT on
    a GPU (float32: the agreement of reduced precision is not measured on a GPU yet); the
    Python-backend copy ignores both and picks its runtime from its own parameters.

    With ``max_batch_size`` > 0 Triton owns the batch axis: the dims exclude it, and the graph's
    first (dynamic) axis N is Triton's implicit batch dimension, which dynamic batching fills
    by merging requests from many workers.

    One file serves every version, so a band or class count the versions disagree on
    (``clc-spectral`` 1-2: 4 bands, 10 classes; 3: 5 bands, 11 classes) cannot be one number:

    - ``backend: "python"`` (the served copy, ``triton_serve``): that dimension is -1 and every
      version is served; each answers its own channels, which its MLM document lists.
    - ``backend: "onnxruntime"`` (NVIDIA's container): that backend refuses -1 against a graph's
      fixed dimension (outputs are compared exactly), so -1 would stop versions 1 and 2 loading.
      The file states the lowest version's shapes and serves the versions that share them
      (``version_policy: specific``): what existing items were made with keeps being served;
      the others run in process or on the Python-backend server.
    """
    specs = [specs] if isinstance(specs, ModelSpec) else sorted(
        specs, key=lambda s: _version_key(s.version))
    if not specs:
        raise ValueError("a Triton configuration needs at least one model version")
    first = specs[0]
    bands = {len(s.input_bands) for s in specs}
    classes = {len(s.output_classes) for s in specs}
    policy = "version_policy: { all { } }"
    if len(bands) == 1 and len(classes) == 1:
        n_bands, n_classes = str(bands.pop()), str(classes.pop())
    elif backend == "onnxruntime":
        n_bands, n_classes = str(len(first.input_bands)), str(len(first.output_classes))
        same = [s.version for s in specs if _shape_of(s) == _shape_of(first)]
        policy = f"version_policy: {{ specific {{ versions: [{', '.join(same)}] }} }}"
    else:
        n_bands = str(bands.pop()) if len(bands) == 1 else "-1"
        n_classes = str(classes.pop()) if len(classes) == 1 else "-1"
    return f"""name: "{first.name}"
backend: "{backend}"
max_batch_size: {max_batch_size}
{policy}
input [{{ name: "{first.input_name}" data_type: TYPE_FP32 dims: [{n_bands}, -1, -1] }}]
output [{{ name: "{first.output_name}" data_type: TYPE_FP32 dims: [{n_classes}, -1, -1] }}]
dynamic_batching {{ max_queue_delay_microseconds: 2000 }}
instance_group [{{ kind: {"KIND_GPU" if device == "gpu" else "KIND_CPU"} count: 1 }}]
{_accelerator(device) if accelerated and backend == "onnxruntime" else ""}"""


def _accelerator(device: str) -> str:
    """The ``optimization`` block of NVIDIA's ONNX Runtime backend for one network."""
    if device == "gpu":
        # 512 px windows have one shape, so TensorRT builds its engine once (cached on disk).
        return ('optimization { execution_accelerators { gpu_execution_accelerator: [{ '
                'name: "tensorrt" parameters { key: "precision_mode" value: "FP32" } '
                'parameters { key: "max_workspace_size_bytes" value: "4294967296" } '
                'parameters { key: "trt_engine_cache_enable" value: "1" } }] } }\n')
    return ('optimization { execution_accelerators { cpu_execution_accelerator: [{ '
            'name: "openvino" }] } }\n')


def _shape_of(spec: ModelSpec) -> tuple[int, int]:
    return len(spec.input_bands), len(spec.output_classes)


def _onnx_version() -> str:
    return ".".join(onnx.__version__.split(".")[:3])


def _atomic_write(path: Path, data: bytes) -> None:
    # Several workers may build the same reference model at once: never expose a half file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
