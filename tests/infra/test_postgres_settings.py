"""The owned PostgreSQL cluster runs with the catalog's tuned server settings."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infra.postgres import SERVER_SETTINGS, SESSION_SETTINGS
from infra.settings import StackSettings
from infra.stack import CORE, Stack

# What SHOW answers for each setting as configured (units as PostgreSQL prints them).
EXPECTED = {"shared_buffers": "1GB", "work_mem": "16MB", "random_page_cost": "1.1",
            "effective_io_concurrency": "200", "jit": "off",
            "max_parallel_workers_per_gather": "0"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for var in ("DATABASE_URL", "EARTHSIG_DATABASE_URL", "EARTHSIG_REDIS_URL", "PGHOST",
                "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "home"
    yield path
    Stack(StackSettings(_env_file=None, home=path)).down()
    if (path / "pg").is_symlink():
        shutil.rmtree((path / "pg").resolve(), ignore_errors=True)


def test_settings_are_the_documented_ones() -> None:
    assert SERVER_SETTINGS == EXPECTED
    assert set(SESSION_SETTINGS) <= set(SERVER_SETTINGS) - {"shared_buffers"}


def test_owned_cluster_runs_with_the_settings(home: Path) -> None:
    state = Stack(StackSettings(_env_file=None, home=home)).up(CORE)
    assert state.postgres is not None and state.postgres.owned
    with psycopg.connect(state.postgres.dsn) as conn:
        shown = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in EXPECTED}
        # Set on the server's command line, not by a session or a database default.
        sources = dict(conn.execute(
            "SELECT name, source FROM pg_settings WHERE name = ANY(%s)",
            (list(EXPECTED),)).fetchall())
    assert shown == EXPECTED
    assert set(sources.values()) == {"command line"}
