"""`python -m tiler` (`serve()`) binds the host and port its settings name."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.servers import free_port


def test_python_m_tiler_serves_on_the_configured_port(pg_env: dict[str, str]) -> None:
    port = free_port()
    env = {**os.environ, **pg_env, "EARTHSIG_TILER_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tiler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "python -m tiler exited"
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "python -m tiler never answered"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["database_online"] is True
    finally:
        proc.terminate()
        proc.wait(10)
