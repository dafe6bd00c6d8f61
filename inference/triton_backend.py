"""The Triton backend: ``predict`` over gRPC with tritonclient.

The gRPC client is created lazily, in the process that first predicts, and again after a
fork: RQ's worker forks a work horse per job, and a gRPC channel must never cross a fork.
Unavailability (server down, starting, overloaded) is retried with back-off; after the last
try the error names the server. A model or version the server does not have is a
:class:`ModelNotFoundError` naming both, never retried.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from inference.errors import BackendUnavailableError, InferenceError, ModelNotFoundError

log = logging.getLogger(__name__)

# gRPC codes worth retrying: the server is not there yet, or too busy right now.
RETRYABLE = {"StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED",
             "StatusCode.RESOURCE_EXHAUSTED"}
# A 16 x 44 x 512 x 512 float32 answer is 738 MB, far above gRPC's 4 MB default: allow gRPC's
# largest message (a signed 32-bit length).
MAX_MESSAGE = 2**31 - 1


class TritonBackend:
    def __init__(self, url: str, model: str, version: str = "", *, input_name: str,
                 output_name: str, timeout_s: float = 60.0, retries: int = 5,
                 backoff_s: float = 0.5) -> None:
        self.url, self.model, self.version = url, model, version
        self.input_name, self.output_name = input_name, output_name
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self._client: Any = None
        self._pid: int | None = None
        self._checked = False

    @property
    def where(self) -> str:
        version = f" version {self.version}" if self.version else ""
        return f"model {self.model!r}{version} on the Triton server at {self.url}"

    def _connection(self) -> Any:
        if self._client is None or self._pid != os.getpid():
            # A client inherited through fork() shares a broken channel: make a new one.
            self._client = grpcclient.InferenceServerClient(
                self.url, channel_args=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                        ("grpc.max_send_message_length", MAX_MESSAGE)])
            self._pid, self._checked = os.getpid(), False
        return self._client

    def check(self) -> None:
        """Fail early and clearly: is the server up, and does it have the model ready?"""
        client = self._connection()
        live = self._call(lambda: client.is_server_live(client_timeout=self.timeout_s))
        if not live:
            raise BackendUnavailableError(f"the Triton server at {self.url} is not live")
        ready = self._call(lambda: client.is_model_ready(
            self.model, self.version, client_timeout=self.timeout_s))
        if not ready:
            names = self._call(lambda: client.get_model_repository_index(as_json=True))
            known = sorted({m["name"] for m in names.get("models", [])})
            raise ModelNotFoundError(
                f"{self.where} is not ready (the server knows {known or 'no models'})")
        self._checked = True

    def predict(self, batch: np.ndarray) -> np.ndarray:
        client = self._connection()
        if not self._checked:
            self.check()
        data = np.ascontiguousarray(batch, dtype=np.float32)
        request = grpcclient.InferInput(self.input_name, list(data.shape), "FP32")
        request.set_data_from_numpy(data)
        wanted = [grpcclient.InferRequestedOutput(self.output_name)]
        result = self._call(lambda: client.infer(
            self.model, [request], model_version=self.version, outputs=wanted,
            client_timeout=self.timeout_s))
        out = result.as_numpy(self.output_name)
        if out is None or out.shape[0] != data.shape[0]:
            raise InferenceError(f"{self.where} answered no {self.output_name!r} for the batch")
        return out

    def _call(self, fn: Any) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except InferenceServerException as exc:
                status = exc.status() or ""
                # RESOURCE_EXHAUSTED is also gRPC's answer to a message over the size limit:
                # that one never gets better by retrying.
                if status not in RETRYABLE or "larger than max" in (exc.message() or ""):
                    raise self._translate(exc) from exc
                if attempt == self.retries:
                    raise BackendUnavailableError(
                        f"the Triton server at {self.url} is unavailable (model {self.model!r}) "
                        f"after {self.retries + 1} tries: {exc.message()}") from exc
                delay = self.backoff_s * 2**attempt
                log.warning("Triton at %s unavailable (%s); retry in %.1fs", self.url,
                            exc.message(), delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _translate(self, exc: InferenceServerException) -> InferenceError:
        text = exc.message() or str(exc)
        if "unknown model" in text or "not found" in text or "unavailable model" in text:
            return ModelNotFoundError(f"{self.where} does not exist: {text}")
        return InferenceError(f"{self.where} failed: {text}")

    def close(self) -> None:
        if self._client is not None and self._pid == os.getpid():
            self._client.close()
        self._client = None
