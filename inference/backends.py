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


def open_backend(model: ResolvedModel, settings: InferenceSettings) -> Backend:
    """The backend the settings name, for one resolved model (call it inside the job)."""
    if settings.backend == "triton":
        from inference.triton_backend import TritonBackend

        spec = model.spec
        return TritonBackend(settings.triton_url, spec.name, spec.version,
                             input_name=spec.input_name, output_name=spec.output_name,
                             timeout_s=settings.triton_timeout_s,
                             retries=settings.triton_retries)
    return OnnxRuntimeBackend(model.onnx_path, threads=settings.ort_threads,
                              spinning=settings.ort_spinning)
