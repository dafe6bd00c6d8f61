"""Every command README gives to try the demo works as written (issue 22, point 1).

The stack is started as ``make up`` starts it (``run_demo``: every component, the demo's
products processed by the service's default model), in a folder laid out like a checkout
(``.earthsig/`` with the stack's state and endpoints, ``.venv`` the interpreter's). README's
``curl`` and ``.venv/bin/earthsig`` lines and its Python snippets that read
``.earthsig/endpoints.json`` are then run from that folder, as a user pastes them, in an
environment holding none of the suite's service variables: each must exit 0 (curl: a 2xx)
and answer something non-empty (a search: at least one item).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.demo import run_demo
from infra.settings import StackSettings
from infra.stack import Stack

README = Path(__file__).resolve().parents[2] / "README.md"
SHELL_PREFIXES = ("curl ", ".venv/bin/earthsig ")
# What the suite sets for itself and a user's shell has not.
SUITE_VARIABLES = ("DATABASE_URL", "EARTHSIG_", "PG")


def _blocks(language: str) -> list[str]:
    return [body for lang, body in re.findall(r"```(\w*)\n(.*?)```", README.read_text(), re.S)
            if lang == language]


SHELL = [line.strip() for body in _blocks("bash") for line in body.splitlines()
         if line.strip().startswith(SHELL_PREFIXES)]
PYTHON = [body for body in _blocks("python") if ".earthsig/endpoints.json" in body]


def test_readme_has_the_commands_this_test_runs() -> None:
    # A README rewritten without them would make every test below vanish silently.
    assert len(SHELL) >= 6 and len(PYTHON) >= 2
    assert any("timeseries/point" in c for c in SHELL)
    assert any("earthsig search" in c for c in SHELL)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory, module_pgstac_dsn: str,
             module_redis_url: str) -> Iterator[Path]:
    """A folder like a checkout after ``make up``: the stack up, the demo processed."""
    work = tmp_path_factory.mktemp("checkout")
    home = work / ".earthsig"
    home.mkdir()
    installed = Path(os.environ.get("EARTHSIG_HOME", ".earthsig")).resolve()
    # What `make install` put there: the models and the real BigEarthNet patches.
    (home / "testdata").symlink_to(installed / "testdata")
    (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
    saved, cwd = dict(os.environ), Path.cwd()
    os.environ.update({
        "DATABASE_URL": module_pgstac_dsn, "EARTHSIG_REDIS_URL": module_redis_url,
        "EARTHSIG_HOME": str(home),
        "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(installed / "models"),
        # The service's default model, as `make up` runs it (the suite's is the rule model).
        "EARTHSIG_INFERENCE_DEFAULT_MODEL": "clc-dynamicworld",
    })
    stack = Stack(StackSettings(_env_file=None, home=home))
    os.chdir(work)  # the demo finds the real patches where `make install` unpacks them
    try:
        run_demo(stack, foreground=False)
        yield work
    finally:
        os.chdir(cwd)
        stack.down()
        os.environ.clear()
        os.environ.update(saved)


def _user_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(SUITE_VARIABLES)}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_user_env(), capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.parametrize("command", SHELL)
def test_readme_shell_command(checkout: Path, command: str) -> None:
    # curl's exit status says nothing of the HTTP status unless asked: -f makes a 4xx/5xx fail.
    script = 'set -eo pipefail; curl() { command curl -fsS "$@"; }; ' + command
    done = _run(["bash", "-c", script], checkout)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    written = re.search(r"-o (\S+)", command)
    if written:
        image = (checkout / written.group(1)).read_bytes()
        assert image.startswith(b"\x89PNG"), command
        return
    assert done.stdout.strip(), command
    if command.startswith("curl "):
        answer = json.loads(done.stdout)
        # A search found items; a time series has both of Toulouse's acquisitions.
        found = answer["features"] if "features" in answer else answer["series"]
        assert found, f"{command} found nothing: {answer}"
        if "series" in answer:
            assert len(found) == 2, answer
    else:  # the CLI's search and time series: the demo's dates over Toulouse
        assert "2024-07-01" in done.stdout, done.stdout


@pytest.mark.parametrize("snippet", PYTHON, ids=lambda s: s.splitlines()[0][:40])
def test_readme_python_snippet(checkout: Path, snippet: str) -> None:
    done = _run([sys.executable, "-c", snippet], checkout)
    assert done.returncode == 0, f"{snippet}\n{done.stderr[-3000:]}"
    assert done.stdout.strip()
