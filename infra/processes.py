"""Background processes the stack starts (worker, STAC API, tiler): pid files, logs, health."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

log = logging.getLogger(__name__)


class ProcessError(RuntimeError):
    """A managed process did not start or did not become healthy."""


@dataclass(frozen=True)
class ManagedProcess:
    name: str
    pid: int
    log_path: str
    url: str | None = None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); it is not alive for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def start(name: str, argv: list[str], *, env: dict[str, str], logs_dir: Path,
          cwd: Path | None = None) -> ManagedProcess:
    """Start ``argv`` in its own session (so stopping it stops its children too)."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = logs_dir / f"{name}.log"
    with log_path.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=cwd)
    log.info("started %s (pid %s), log %s", name, proc.pid, log_path)
    return ManagedProcess(name=name, pid=proc.pid, log_path=str(log_path))


def _wait_ready(proc: ManagedProcess, ready: Callable[[], bool], what: str,
                timeout: float) -> None:
    """Until ``ready()``; ProcessError with the log's tail if ``proc`` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(proc.pid):
            tail = Path(proc.log_path).read_text(errors="replace")[-3000:]
            raise ProcessError(f"{proc.name} exited while starting; log tail:\n{tail}")
        if ready():
            return
        time.sleep(0.3)
    raise ProcessError(f"{proc.name} did not {what} within {timeout:.0f}s")


def wait_healthy(proc: ManagedProcess, url: str, timeout: float = 90.0) -> None:
    def answers() -> bool:
        try:
            return httpx.get(url, timeout=3).status_code < 500
        except httpx.TransportError:
            return False
    _wait_ready(proc, answers, f"answer at {url}", timeout)


def wait_listening(proc: ManagedProcess, host: str, port: int, timeout: float = 90.0) -> None:
    """Until ``proc`` accepts TCP connections on ``port`` (a service that speaks no plain
    HTTP: the gRPC service on mutual TLS)."""
    def listens() -> bool:
        try:
            with socket.create_connection((host, port), timeout=3):
                return True
        except OSError:
            return False
    _wait_ready(proc, listens, f"listen on {host}:{port}", timeout)


def stop(pid: int, name: str = "", timeout: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``timeout``."""
    if not alive(pid):
        return
    log.info("stopping %s (pid %s)", name or "process", pid)
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)
        if not alive(pid):
            return


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
