"""Real services for the suite: the local stack's PostgreSQL (pgstac) and Redis.

pgstac is migrated once per session into a template database; every test that asks for
``pgstac_dsn`` gets a fresh clone of it (fast, isolated). Redis database 1 is flushed per test.

Several suites may run at once against the same services (e.g. one per worktree) when each sets
its own ``EARTHSIG_TEST_SLOT`` (0-6): the template database and the Redis databases are then
the slot's own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import redis

from infra.postgres import dsn_for, libpq_env, migrate_pgstac
from infra.settings import StackSettings
from infra.stack import CORE, Stack, StackState

# The suite's pipeline, catalog and tiler tests run the fast rule model, whose classes on the
# generated products are known; the real model (clc-dynamicworld, the service's default) has
# its own tests on real pixels (tests/inference/test_dynamicworld.py,
# tests/e2e/test_dynamicworld_chain.py), which name it. Workers started by tests inherit this.
os.environ.setdefault("EARTHSIG_INFERENCE_DEFAULT_MODEL", "clc-spectral")
# Every test client is 127.0.0.1: one client to the per-client request budgets, which a
# fuzzing or paging test spends in seconds. The suite lifts them; the tests of the budgets
# (tests/stac_api/test_client_limits.py, tests/tiler/test_client_limits.py) set their own.
for _budget in ("API_RATE_READ", "API_RATE_SEARCH", "API_RATE_WRITE", "TILER_RATE_READ",
                "TILER_RATE_SEARCH", "TILER_RATE_WRITE"):
    os.environ.setdefault(f"EARTHSIG_{_budget}", "1000000/minute")

# The session fails if a process a test started outlives it (issue 22, point 6).
pytest_plugins = ["tests.process_leaks"]

SLOT = int(os.environ.get("EARTHSIG_TEST_SLOT", "0"))
TEMPLATE_DB = "earthsig_test_template" + (f"_{SLOT}" if SLOT else "")
REDIS_DBS = (1 + 2 * SLOT, 2 + 2 * SLOT)  # Redis has 16 databases: slots 0-6


@pytest.fixture(autouse=True)
def _isolated_environ() -> Iterator[None]:
    """Undo what a test leaves in os.environ (CLI commands run in process export the stack's
    PG*/DATABASE_URL, which would point later tests' servers at the wrong database)."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def stack() -> StackState:
    return Stack(StackSettings(_env_file=None)).up(CORE)


def _admin_dsn(stack: StackState, dbname: str) -> str:
    assert stack.postgres is not None
    env = libpq_env(stack.postgres.dsn)
    return dsn_for(env["PGHOST"], int(env["PGPORT"]), dbname, env["PGUSER"], env["PGPASSWORD"])


@pytest.fixture(scope="session")
def pgstac_template(stack: StackState) -> str:
    with psycopg.connect(_admin_dsn(stack, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (TEMPLATE_DB,)).fetchone():
            conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    migrate_pgstac(_admin_dsn(stack, TEMPLATE_DB))
    return TEMPLATE_DB


@contextmanager
def _cloned_database(stack: StackState, template: str) -> Iterator[str]:
    name = f"earthsig_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_dsn(stack, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _admin_dsn(stack, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pgstac_dsn(stack: StackState, pgstac_template: str) -> Iterator[str]:
    """A fresh, empty, pgstac-migrated database."""
    with _cloned_database(stack, pgstac_template) as dsn:
        yield dsn


@pytest.fixture(scope="module")
def module_pgstac_dsn(stack: StackState, pgstac_template: str) -> Iterator[str]:
    """A fresh pgstac database shared by the tests of one module (expensive set-ups)."""
    with _cloned_database(stack, pgstac_template) as dsn:
        yield dsn


@pytest.fixture
def pg_env(pgstac_dsn: str) -> dict[str, str]:
    """PG* variables naming the test database, as every service reads them."""
    return libpq_env(pgstac_dsn)


@contextmanager
def _flushed_redis(stack: StackState, db: int) -> Iterator[str]:
    assert stack.redis is not None
    url = stack.redis.url.rsplit("/", 1)[0] + f"/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def redis_url(stack: StackState) -> Iterator[str]:
    """Redis database 1 (in slot 0), flushed before and after the test."""
    with _flushed_redis(stack, REDIS_DBS[0]) as url:
        yield url


@pytest.fixture(scope="module")
def module_redis_url(stack: StackState) -> Iterator[str]:
    """Redis database 2 (in slot 0), flushed around one module."""
    with _flushed_redis(stack, REDIS_DBS[1]) as url:
        yield url
