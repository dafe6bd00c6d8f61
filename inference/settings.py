"""Settings of the model service (env prefix ``EARTHSIG_INFERENCE_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _model_batch_sizes() -> dict[str, int]:
    """`{"clc-dynamicworld": 1}`"""
    return {"clc-dynamicworld": 1}


Runtime = Literal["onnxruntime", "openvino"]


def _model_runtimes() -> dict[str, Runtime]:
    """`{"clc-dynamicworld": "openvino"}`"""
    return {"clc-dynamicworld": "openvino"}


def _model_threads() -> dict[str, int]:
    """`{"clc-dynamicworld": 2}`"""
    return {"clc-dynamicworld": 2}


class InferenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EARTHSIG_INFERENCE_", env_file=".env",
                                      extra="ignore", protected_namespaces=())

    model_repository: Path = Field(
        default=Path(".earthsig/models"),
        description="Model repository in Triton's layout (<model>/<version>/model.onnx).",
    )
    default_model: str = Field(
        default="clc-dynamicworld",
        description="Land-cover model used when none named: clc-dynamicworld (Dynamic World, "
                    "trained on real Sentinel-2 scenes) or clc-spectral (the fast rule "
                    "baseline).")
    active_versions: dict[str, str] = Field(
        default_factory=dict,
        description='Active version per model, JSON: {"clc-spectral": "1"}; else the highest.')
    window_size: int = Field(
        default=512, ge=64, multiple_of=2,
        description="Inference window, pixels (even: clc-dynamicworld halves it).")
    window_overlap: int = Field(default=32, ge=0,
                                description="Pixels shared by neighbouring windows.")
    blend: Literal["centre", "weighted"] = Field(
        default="centre",
        description="Overlap stitching: centre (each pixel from the window whose centre is "
                    "nearest) or weighted (probabilities averaged with tapered weights).")
    batch_size: int = Field(default=4, ge=1, description="Windows per backend call.")
    model_batch_sizes: dict[str, int] = Field(
        default_factory=_model_batch_sizes,
        description='Windows per backend call for the models named, JSON, over batch_size: '
                    'a full-resolution network\'s activations are large (clc-dynamicworld: '
                    '0.9 GB in ONNX Runtime for one 512 px window, 3.9 GB for four, at the same '
                    'speed a window; docs/benchmarks.md).')

    def batch_size_for(self, model: str) -> int:
        """Windows per backend call for ``model`` (its name)."""
        return max(1, self.model_batch_sizes.get(model, self.batch_size))
    backend: Literal["onnxruntime", "triton"] = Field(
        default="onnxruntime", description="Embedded ONNX Runtime, or a Triton server (gRPC).")
    model_runtimes: dict[str, Runtime] = Field(
        default_factory=_model_runtimes,
        description='In-process runtime of the models named, JSON (the others: ONNX Runtime). '
                    'OpenVINO runs clc-dynamicworld 3-4x faster than ONNX Runtime on CPU '
                    '(docs/benchmarks.md); the cloud models\' tree ensembles are ONNX-ML ops '
                    'only ONNX Runtime has.')
    ort_threads: int = Field(
        default=1, ge=0,
        description="In-process runtime threads (0: all cores). 1 by default: the window "
                    "reader runs on the other core (docs/benchmarks.md).")
    model_threads: dict[str, int] = Field(
        default_factory=_model_threads,
        description='Threads for the models named, JSON, over ort_threads: the real model\'s '
                    'time is all in the network, so it takes both cores of a 2-core node '
                    '(1.33x in the chain with ONNX Runtime; docs/benchmarks.md).')

    def runtime_for(self, model: str) -> Runtime:
        """The in-process runtime of ``model`` (its name)."""
        return self.model_runtimes.get(model, "onnxruntime")

    def threads_for(self, model: str) -> int:
        """In-process runtime threads for ``model`` (its name)."""
        return self.model_threads.get(model, self.ort_threads)
    ort_spinning: bool = Field(
        default=False,
        description="Let ONNX Runtime's idle threads spin between operators (off: they "
                    "yield the core to reading and to other workers).")
    triton_ort_threads: int = Field(
        default=0, ge=0,
        description="ONNX Runtime intra-op threads of each model in the local Triton server "
                    "(0: all cores): the server is shared by every worker, unlike ort_threads.")
    triton_url: str = Field(default="127.0.0.1:8001", description="Triton gRPC host:port.")
    triton_timeout_s: float = Field(default=60.0, gt=0, description="Per-request timeout.")
    triton_retries: int = Field(default=5, ge=0,
                                description="Retries while the server is unavailable.")
    triton_venv: Path = Field(default=Path(".earthsig/triton-venv"),
                              description="Venv of the local tritonserver (nvidia-pytriton).")
    triton_state: Path = Field(default=Path(".earthsig/triton"),
                               description="Served copy of the repository, backends, log.")
    triton_device: Literal["cpu", "gpu"] = Field(
        default="cpu",
        description="Device written in each model's config.pbtxt for NVIDIA's Triton "
                    "container (gpu: KIND_GPU, the networks through TensorRT; cpu: the "
                    "networks through OpenVINO). The local Python-backend server runs on CPU.")
    triton_max_batch_size: int = Field(default=16, ge=1,
                                       description="max_batch_size written in config.pbtxt.")
