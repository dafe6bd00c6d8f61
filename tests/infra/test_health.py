"""The containers' health checks against real services: HTTP, Redis, a worker, the scheduler."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from infra.deploy import health


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra.deploy.health", *args],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=60)


def test_http_check_exit_status(http_base: str) -> None:
    assert _run("http", f"{http_base}/ok").returncode == 0
    failed = _run("http", f"{http_base}/broken")
    assert failed.returncode == 1 and "503" in failed.stderr
    assert _run("http").returncode == 2  # usage


def test_loopback_check_reads_its_port_from_the_container_s_setting(http_base: str) -> None:
    port = http_base.rsplit(":", 1)[1]
    assert _run("loopback", "EARTHSIG_API_PORT", "/ok",
                env={"EARTHSIG_API_PORT": port}).returncode == 0
    failed = _run("loopback", "EARTHSIG_API_PORT", "/broken", env={"EARTHSIG_API_PORT": port})
    assert failed.returncode == 1 and "503" in failed.stderr
    unset = _run("loopback", "EARTHSIG_NO_SUCH_PORT", "/ok")
    assert unset.returncode == 1 and "EARTHSIG_NO_SUCH_PORT" in unset.stderr
    assert _run("loopback", "EARTHSIG_API_PORT").returncode == 2  # usage


def test_redis_check(redis_url: str) -> None:
    assert _run("redis", env={"EARTHSIG_REDIS_URL": redis_url}).returncode == 0
    down = _run("redis", env={"EARTHSIG_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert down.returncode == 1 and "redis" in down.stderr


def _wait(check: Callable[[], str], timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return check()
        except health.Unhealthy:
            assert time.monotonic() < deadline, f"still unhealthy after {timeout_s}s"
            time.sleep(0.3)


@contextmanager
def _process(argv: list[str], redis_url: str, log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "infra", *argv],
                                env={**os.environ, "EARTHSIG_REDIS_URL": redis_url},
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def test_worker_is_healthy_while_registered_from_this_host(redis_url: str,
                                                          tmp_path: Path) -> None:
    with pytest.raises(health.Unhealthy, match="no worker"):
        health.check_worker(redis_url)
    with _process(["worker", "--queues", "infer", "--name", "probe"], redis_url,
                  tmp_path / "worker.log") as proc:
        assert "probe" in _wait(lambda: health.check_worker(redis_url))
        with pytest.raises(health.Unhealthy):  # another host's container sees no worker
            health.check_worker(redis_url, host="elsewhere")
        proc.terminate()  # RQ's warm shutdown unregisters the worker
        proc.wait(30)
    with pytest.raises(health.Unhealthy):
        health.check_worker(redis_url)


def test_scheduler_is_healthy_while_it_beats(redis_url: str, tmp_path: Path) -> None:
    with pytest.raises(health.Unhealthy, match="no cron scheduler"):
        health.check_scheduler(redis_url)
    with _process(["scheduler"], redis_url, tmp_path / "scheduler.log"):
        assert _wait(lambda: health.check_scheduler(redis_url))
        with pytest.raises(health.Unhealthy):
            health.check_scheduler(redis_url, host="elsewhere")


def test_grpc_check_wants_the_server_certificate_its_ca_signed(tmp_path: Path) -> None:
    """A real gRPC server on mutual TLS (no services: the handshake is what is checked)."""
    import grpc

    from infra.grpc_api.certificates import init
    from infra.grpc_api.server import server_credentials
    from infra.grpc_api.settings import GrpcSettings

    ours, stranger = tmp_path / "ours", tmp_path / "stranger"
    init(ours)
    init(stranger)
    server = grpc.server(ThreadPoolExecutor(1))
    port = server.add_secure_port("127.0.0.1:0",
                                  server_credentials(GrpcSettings(certs_dir=ours)))
    server.start()
    try:
        env = {"EARTHSIG_GRPC_PORT": str(port), "EARTHSIG_GRPC_CERTS_DIR": str(ours)}
        healthy = _run("grpc", env=env)
        assert healthy.returncode == 0, healthy.stderr
        assert "server certificate localhost" in healthy.stdout
        other_ca = _run("grpc", env={**env, "EARTHSIG_GRPC_CERTS_DIR": str(stranger)})
        assert other_ca.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in other_ca.stderr
    finally:
        server.stop(None)
    closed = _run("grpc", env=env)
    assert closed.returncode == 1 and f"127.0.0.1:{port}" in closed.stderr
