"""Triton Python-backend model that runs a repository model's ONNX file with ONNX Runtime.

The ``tritonserver`` shipped in the nvidia-pytriton wheel has only the Python backend, so the
served copy of the repository puts this file beside each version's ``model.onnx``. It runs in
Triton's Python stub, inside the Triton venv (numpy < 2 and onnxruntime there), and imports
nothing from this project. NVIDIA's Triton container serves ``model.onnx`` with its own ONNX
Runtime backend instead and never reads this file.
"""

import json
import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(params.get("ort_threads", "0"))
        options.enable_cpu_mem_arena = params.get("ort_arena", "1") != "0"
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = ort.InferenceSession(path, sess_options=options,
                                            providers=["CPUExecutionProvider"])
        self.input_name = config["input"][0]["name"]
        self.output_name = config["output"][0]["name"]

    def execute(self, requests: list) -> list:
        # Dynamic batching hands over several requests: run them as one ONNX batch.
        arrays = [pb_utils.get_input_tensor_by_name(r, self.input_name).as_numpy()
                  for r in requests]
        sizes = [a.shape[0] for a in arrays]
        same_shape = len({a.shape[1:] for a in arrays}) == 1
        if len(arrays) == 1:  # the common case: no concatenation, no split (no copies)
            out = self.session.run([self.output_name], {self.input_name: arrays[0]})[0]
            parts = [out]
        elif same_shape:
            feed = {self.input_name: np.concatenate(arrays)}
            out = self.session.run([self.output_name], feed)[0]
            parts = np.split(out, np.cumsum(sizes)[:-1])
        else:
            parts = [self.session.run([self.output_name], {self.input_name: a})[0]
                     for a in arrays]
        return [pb_utils.InferenceResponse([pb_utils.Tensor(self.output_name,
                                                            np.ascontiguousarray(p))])
                for p in parts]
