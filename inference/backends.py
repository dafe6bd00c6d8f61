"""Model backends behind one small interface: ``predict(batch) -> probabilities``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import onnxruntime as ort

from inference.errors import InferenceError

if TYPE_CHECKING:
    from inference.repository import ResolvedModel
    from inference.settings import InferenceSettings


class Backend(Protocol):
    def predict(self, batch: np.ndarray) -> np.ndarray:
        """[N, bands, H, W] float32 model input -> [N, classes, H, W] probabilities."""
        ...


class OnnxRuntimeBackend:
    """The embedded backend: ONNX Runtime on the CPU, in this process."""

    def __init__(self, model_path: Path, *, threads: int = 0, arena: bool = True,
                 spinning: bool = False) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per core
        # ORT's pool threads spin between operators by default: faster alone on a machine,
        # but the spinning takes the core that reading (and other workers) need.
        options.add_session_config_entry("session.intra_op.allow_spinning",
                                         "1" if spinning else "0")
        # ORT's arena keeps the largest batch's memory for the session's life (faster reruns);
        # without it every run gives its memory back (a 16 x 512 px U-Net batch: ~5 GB).
        options.enable_cpu_mem_arena = arena
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(model_path), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own untyped errors on a bad file
            raise InferenceError(f"cannot load ONNX model {model_path}: {exc}") from exc
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: batch})[0]


class OpenVinoBackend:
    """The embedded backend with OpenVINO's CPU runtime, on the same ONNX file.

    OpenVINO fuses a convolution's element-wise tail (Dynamic World's Mish gates) into the
    convolution, where ONNX Runtime's CPU provider runs each element-wise op as its own pass
    over full-resolution activations. It compiles a model for one input shape at a time (0.1 s;
    a shape left dynamic ran 2x slower), so each shape seen is compiled once and kept.
    Precision stays float32: on CPUs with bfloat16 OpenVINO may otherwise pick it.
    """

    def __init__(self, model_path: Path, *, threads: int = 0) -> None:
        import openvino as ov

        self.core = ov.Core()
        try:
            self.model = self.core.read_model(str(model_path))
        except Exception as exc:  # OpenVINO raises RuntimeError with its own message
            raise InferenceError(f"cannot load ONNX model {model_path} in OpenVINO: {exc}") from exc
        _refuse_antialias(model_path)
        self.config: dict[str, object] = {"INFERENCE_PRECISION_HINT": "f32",
                                          "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = threads
        self._compiled: dict[tuple[int, ...], object] = {}

    def predict(self, batch: np.ndarray) -> np.ndarray:
        compiled = self._compiled.get(batch.shape)
        if compiled is None:
            model = self.model.clone()
            model.reshape(list(batch.shape))
            compiled = self._compiled[batch.shape] = self.core.compile_model(
                model, "CPU", self.config)
        return compiled(batch)[0]  # type: ignore[operator]


def _refuse_antialias(model_path: Path) -> None:
    """OpenVINO reads Resize's ``antialias`` without applying it (Dynamic World's first
    downsampling: 86 % of the real patches' classes kept), so such a graph is refused rather
    than run wrongly; ``earthsig models build`` writes clc-dynamicworld without it."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    for node in graph.node:
        if node.op_type == "Resize" and any(a.name == "antialias" and a.i for a in node.attribute):
            raise InferenceError(
                f"{model_path}: Resize {node.name!r} is antialiased, which OpenVINO does not "
                "compute; rebuild the model (`earthsig models build NAME`) or run "
                "it with ONNX Runtime (EARTHSIG_INFERENCE_MODEL_RUNTIMES)")


def open_backend(model: ResolvedModel, settings: InferenceSettings) -> Backend:
    """The backend the settings name, for one resolved model (call it inside the job)."""
    if settings.backend == "triton":
        from inference.triton_backend import TritonBackend

        spec = model.spec
        return TritonBackend(settings.triton_url, spec.name, spec.version,
                             input_name=spec.input_name, output_name=spec.output_name,
                             timeout_s=settings.triton_timeout_s,
                             retries=settings.triton_retries)
    threads = settings.threads_for(model.spec.name)
    if settings.runtime_for(model.spec.name) == "openvino":
        return OpenVinoBackend(model.onnx_path, threads=threads)
    return OnnxRuntimeBackend(model.onnx_path, threads=threads, spinning=settings.ort_spinning)
