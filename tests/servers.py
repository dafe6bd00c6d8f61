"""Start real HTTP servers (uvicorn in a child process) on 127.0.0.1 for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def uvicorn_server(
    factory: str, env: dict[str, str], *, health_path: str = "/", timeout: float = 60.0
) -> Iterator[str]:
    """Run ``uvicorn --factory FACTORY`` with ``env`` added; yield its base URL."""
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"earthsig-test-uvicorn-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", factory,
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{factory} exited early:\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(base + health_path, timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{factory} did not answer in {timeout}s:\n{log.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
