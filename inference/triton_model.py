"""Triton Python-backend model that runs a repository model's ONNX file with ONNX Runtime,
or with OpenVINO where its ``runtime`` parameter says so (as the in-process backend does).

The ``tritonserver`` shipped in the nvidia-pytriton wheel has only the Python backend, so the
served copy of the repository puts this file beside each version's ``model.onnx``. It runs in
Triton's Python stub, inside the Triton venv (numpy < 2, onnxruntime and openvino there), and
imports nothing from this project. NVIDIA's Triton container serves ``model.onnx`` with its own
ONNX Runtime backend instead and never reads this file.
"""

import json
import os
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        threads = int(params.get("ort_threads", "0"))
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.input_name = config["input"][0]["name"]
        self.output_name = config["output"][0]["name"]
        self.run: Callable[[np.ndarray], np.ndarray]
        if params.get("runtime") == "openvino":
            self.run = OpenVinoRunner(path, threads)
            return
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.enable_cpu_mem_arena = params.get("ort_arena", "1") != "0"
        session = ort.InferenceSession(path, sess_options=options,
                                       providers=["CPUExecutionProvider"])
        self.run = lambda x: session.run([self.output_name], {self.input_name: x})[0]

    def execute(self, requests: list) -> list:
        # Dynamic batching hands over several requests: run them as one ONNX batch.
        arrays = [pb_utils.get_input_tensor_by_name(r, self.input_name).as_numpy()
                  for r in requests]
        sizes = [a.shape[0] for a in arrays]
        same_shape = len({a.shape[1:] for a in arrays}) == 1
        if len(arrays) == 1:  # the common case: no concatenation, no split (no copies)
            out = self.run(arrays[0])
            parts = [out]
        elif same_shape:
            out = self.run(np.concatenate(arrays))
            parts = np.split(out, np.cumsum(sizes)[:-1])
        else:
            parts = [self.run(a) for a in arrays]
        return [pb_utils.InferenceResponse([pb_utils.Tensor(self.output_name,
                                                            np.ascontiguousarray(p))])
                for p in parts]


class OpenVinoRunner:
    """OpenVINO on the CPU, compiled once per input shape, float32 (inference/backends.py's
    OpenVinoBackend, which this file cannot import)."""

    def __init__(self, path: str, threads: int) -> None:
        import openvino as ov

        self.core = ov.Core()
        self.model = self.core.read_model(path)
        self.config: dict[str, object] = {"INFERENCE_PRECISION_HINT": "f32",
                                          "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = threads
        self.compiled: dict[tuple[int, ...], Callable] = {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        compiled = self.compiled.get(x.shape)
        if compiled is None:
            model = self.model.clone()
            model.reshape(list(x.shape))
            compiled = self.compiled[x.shape] = self.core.compile_model(model, "CPU", self.config)
        return compiled(x)[0]
