"""Settings of the model service (env prefix ``EARTHSIG_INFERENCE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InferenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EARTHSIG_INFERENCE_", env_file=".env",
                                      extra="ignore", protected_namespaces=())

    model_repository: Path = Field(
        default=Path(".earthsig/models"),
        description="Model repository in Triton's layout (<model>/<version>/model.onnx).",
    )
    default_model: str = Field(default="clc-spectral", description="Model used when none named.")
    window_size: int = Field(default=512, ge=64, description="Inference window, pixels.")
    batch_size: int = Field(default=4, ge=1, description="Windows per backend call.")
    ort_threads: int = Field(default=0, ge=0, description="ONNX Runtime threads (0: all cores).")
