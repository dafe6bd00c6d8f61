"""Stopping the RQ workers a test started, their work horses included.

RQ forks a work horse per job into a session of its own: killing a worker that would not stop
in time leaves its horse running with init as its parent. The horses are found (through /proc)
while their worker is still their parent, and whatever of them is left once the workers are
gone is killed too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` now."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid ...: comm may hold spaces and parentheses.
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == pid:
            found.append(int(stat.parent.name))
    return found


def stop_workers(workers: Iterable[subprocess.Popen], timeout_s: float = 30) -> None:
    """SIGTERM every worker (RQ's warm shutdown), SIGKILL those still there after
    ``timeout_s``, then SIGKILL every work horse they left behind."""
    workers = [w for w in workers if w.poll() is None]
    horses = [pid for w in workers for pid in children(w.pid)]
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout_s)
        except subprocess.TimeoutExpired:
            horses += children(worker.pid)
            worker.kill()
            worker.wait()
    for pid in horses:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def kill_worker(worker: subprocess.Popen, horse_pid: int) -> None:
    """SIGKILL a worker as a lost machine would: the worker, its work horse and every other
    process it started (RQ's scheduler runs in a child of its own, which would otherwise
    live on, re-acquiring its locks, after the test)."""
    others = children(worker.pid)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    for pid in {horse_pid, *others}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
