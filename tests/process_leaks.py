"""A pytest plugin: the session fails if a process a test started outlives it (issue 22, point 6).

Every test that starts a process (a uvicorn server, an RQ worker and its scheduler child,
tritonserver, moto, a CLI) must stop it, and all its children. The session marks its own
environment with a token that every process it starts inherits (``/proc/PID/environ`` keeps a
process's initial environment, through double forks and reparenting to init); at the end, any
process still carrying the token, and any descendant of pytest, is named, killed and fails the
run. Processes of other sessions on the machine carry another token, or none, and are left
alone. The stack's PostgreSQL and Redis, which a session may start and which are meant to
outlive it (``earthsig stack down`` stops them), are not counted.

Registered in ``tests/conftest.py``; ``-p no:tests.process_leaks`` turns it off.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

MARKER = "EARTHSIG_TEST_SESSION"
# Started by the stack for the whole machine, not by a test: they outlive the session by design.
SHARED_SERVICES = frozenset({"postgres", "redis-server", "pg_ctl", "initdb"})
# Processes finishing their shutdown when the session ends get this long before they count.
GRACE_S = 10.0


@dataclass(frozen=True)
class Leftover:
    pid: int
    ppid: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} (parent {self.ppid}): {self.command}"


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(comm, ppid, state) of a process, or ``None`` once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    state, ppid = raw[raw.rindex(")") + 2:].split()[:2]
    return comm, int(ppid), state


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace").strip()
    except OSError:
        return ""


def _carries(pid: int, token: bytes) -> bool:
    try:
        return token in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, or another user's
        return False


def leftovers(token: str, root: int) -> list[Leftover]:
    """Live processes carrying ``MARKER=token`` or descending from ``root`` (not ``root``)."""
    marked = f"{MARKER}={token}".encode()
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != root:
            stat = _stat(int(entry.name))
            if stat is not None and stat[2] != "Z":  # a zombie holds nothing but its pid
                table[int(entry.name)] = stat
    descendants: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, (_, ppid, _) in table.items() if ppid in frontier} - descendants
        descendants |= frontier
    found = []
    for pid, (comm, ppid, _) in sorted(table.items()):
        if comm in SHARED_SERVICES:
            continue
        if pid in descendants or _carries(pid, marked):
            found.append(Leftover(pid, ppid, _command(pid) or comm))
    return found


def pytest_configure(config: pytest.Config) -> None:
    # Its own token, even inside another session (a test running pytest): each is answerable
    # for what it started.
    os.environ[MARKER] = uuid.uuid4().hex
    config.stash[_TOKEN] = os.environ[MARKER]


_TOKEN = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    token = session.config.stash.get(_TOKEN, None)
    if token is None:
        return
    deadline = time.monotonic() + GRACE_S
    found = leftovers(token, os.getpid())
    while found and time.monotonic() < deadline:
        time.sleep(0.5)
        found = leftovers(token, os.getpid())
    if not found:
        return
    for process in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(found)} process(es) started by this session outlived it (killed now):",
             *(f"  {p}" for p in found)]
    if reporter is not None:
        reporter.write_sep("=", "processes left running", red=True)
        for line in lines:
            reporter.write_line(line)
    else:
        print("\n".join(lines))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
