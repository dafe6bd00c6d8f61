"""``python -m stac_api`` serves on the EARTHSIG_API_* address with the PG* database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]


def wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not healthy after {timeout}s")


def test_python_m_stac_api_serves_on_configured_port(
    catalog_dsn: str, pg_env: dict[str, str]
) -> None:
    port = free_port()
    env = {**os.environ, **pg_env, "EARTHSIG_API_PORT": str(port)}
    env.pop("EARTHSIG_API_HOST", None)  # the default must be loopback
    proc = subprocess.Popen(
        [sys.executable, "-m", "stac_api"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        health = wait_healthy(proc, f"http://127.0.0.1:{port}/_mgmt/health")
        assert health.json()["pgstac"]["status"] == "UP"
        landing = httpx.get(f"http://127.0.0.1:{port}/").json()
        assert landing["id"] == "earthsignature"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    # uvicorn shuts down gracefully (lifespan included), then re-raises SIGTERM as its exit.
    assert proc.returncode in (0, -signal.SIGTERM), output.decode()
    assert b"Application shutdown complete" in output
    assert f"Uvicorn running on http://127.0.0.1:{port}".encode() in output
