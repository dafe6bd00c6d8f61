"""The session-end check of tests/process_leaks.py, on real pytest sessions in a subprocess:
a process a test leaves running (a child, or a grandchild reparented to init) fails the run,
is named and killed; a session that stops what it starts passes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LEAKY = '''
import subprocess
from pathlib import Path


def test_forgets_a_child(tmp_path_factory):
    child = subprocess.Popen(["sleep", "617"])
    Path("{pids}", "child").write_text(str(child.pid))


def test_forgets_a_detached_grandchild():
    # The shell exits at once: its sleep is reparented (to init or a subreaper).
    out = subprocess.run(["sh", "-c", "sleep 618 >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, check=True).stdout
    Path("{pids}", "grandchild").write_text(out.strip())
'''

TIDY = '''
import subprocess


def test_stops_what_it_starts():
    child = subprocess.Popen(["sleep", "619"])
    child.terminate()
    child.wait()
'''


def _session(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.process_leaks", "-q",
         "-p", "no:cacheprovider", "test_inner.py"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=120)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_processes_left_running_fail_the_session_and_are_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    done = _session(tmp_path, LEAKY.replace("{pids}", str(pids)))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert "2 process(es) started by this session outlived it (killed now)" in done.stdout
    child, grandchild = (int((pids / name).read_text()) for name in ("child", "grandchild"))
    assert f"pid {child} " in done.stdout and "sleep 617" in done.stdout
    assert f"pid {grandchild} " in done.stdout and "sleep 618" in done.stdout
    deadline = time.monotonic() + 10
    while (_alive(child) or _alive(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child) and not _alive(grandchild)


def test_a_session_that_stops_its_processes_passes(tmp_path: Path) -> None:
    done = _session(tmp_path, TIDY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "outlived" not in done.stdout
