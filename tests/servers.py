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
from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from catalog_schemas.header_deadline import HEADER_TIMEOUT_PROTOCOL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_log(url: str) -> Path:
    """The output file of the :func:`uvicorn_server` at ``url`` (its access log at ``info``)."""
    port = url.rsplit(":", 1)[1].rstrip("/")
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"earthsig-test-uvicorn-{port}.log"


@contextmanager
def uvicorn_server(
    factory: str, env: dict[str, str], *, health_path: str = "/", timeout: float = 60.0,
    log_level: str = "warning",
) -> Iterator[str]:
    """Run ``uvicorn --factory FACTORY`` with ``env`` added; yield its base URL
    (``log_level="info"`` writes every request to :func:`server_log`)."""
    port = free_port()
    log = server_log(f"http://127.0.0.1:{port}")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", factory,
             "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level,
             "--http", HEADER_TIMEOUT_PROTOCOL],
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
        stop_process(proc)


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s: a server started for a test is gone afterwards."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def moto_s3_server(log_dir: Path, timeout: float = 30.0) -> Iterator[str]:
    """A real S3-protocol server (moto's server mode) on 127.0.0.1; yield its endpoint URL."""
    port = free_port()
    with (log_dir / "moto.log").open("wb") as log:
        proc = subprocess.Popen([Path(sys.executable).parent / "moto_server", "-H",
                                 "127.0.0.1", "-p", str(port)], stdout=log,
                                stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)


STATIC_ROOT_VAR = "EARTHSIG_TEST_STATIC_ROOT"


def static_app() -> FastAPI:
    """Files under ``$EARTHSIG_TEST_STATIC_ROOT`` with range requests, as GDAL's /vsicurl/
    needs: products served the way a provider serves them (``uvicorn_server`` factory
    ``tests.servers:static_app``)."""
    app = FastAPI()
    app.mount("/", StaticFiles(directory=os.environ[STATIC_ROOT_VAR]), name="products")
    return app
