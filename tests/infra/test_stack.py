"""The local stack creates, reuses and stops only its own services."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from infra.postgres import reachable as pg_reachable
from infra.redis_server import reachable as redis_reachable
from infra.settings import StackSettings
from infra.stack import CORE, Stack


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    # pytest's tmp folders are 0700: as root, this exercises the cluster's /var/tmp fallback.
    path = tmp_path / "home"
    yield path
    Stack(StackSettings(_env_file=None, home=path)).down()
    if (path / "pg").is_symlink():
        shutil.rmtree((path / "pg").resolve(), ignore_errors=True)


@pytest.fixture
def no_external(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DATABASE_URL", "EARTHSIG_DATABASE_URL", "EARTHSIG_REDIS_URL", "PGHOST",
                "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE"):
        monkeypatch.delenv(var, raising=False)


def test_owned_stack_up_twice_status_down(home: Path, no_external: None) -> None:
    stack = Stack(StackSettings(_env_file=None, home=home))
    first = stack.up(CORE)
    assert first.postgres and first.postgres.owned and first.redis and first.redis.owned
    assert (home / "pg" / "data" / "PG_VERSION").exists()
    if os.geteuid() == 0:  # the postgres user cannot enter pytest's private tmp folders
        assert (home / "pg").is_symlink()
    with psycopg.connect(first.postgres.dsn) as conn:
        assert conn.execute("SELECT pgstac.get_version()").fetchone()[0] == "0.10.0"
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"

    second = stack.up(CORE)  # harmless: same servers, same ports
    assert second.postgres == first.postgres and second.redis == first.redis

    rows = {name: (state, where) for name, state, where in stack.status()}
    assert rows["postgres"][0] == "running (owned)"
    assert rows["redis"] == ("running (owned)", first.redis.url)
    assert rows["worker"][0] == "stopped"

    stack.down()
    assert not pg_reachable(first.postgres.dsn, 1)
    assert not redis_reachable(first.redis.url, 0.5)
    assert {s for _, s, _ in stack.status()} <= {"not configured", "stopped"}


def test_external_services_are_used_and_left_running(
    home: Path, no_external: None, monkeypatch: pytest.MonkeyPatch, redis_url: str,
    pgstac_dsn: str,
) -> None:
    monkeypatch.setenv("EARTHSIG_REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", pgstac_dsn)
    stack = Stack(StackSettings(_env_file=None, home=home))
    state = stack.up(CORE)
    assert state.redis and not state.redis.owned and state.redis.url == redis_url
    assert state.postgres and not state.postgres.owned and state.postgres.dsn == pgstac_dsn
    assert not (home / "pg").exists()
    stack.down()
    assert redis.Redis.from_url(redis_url).ping()
    assert pg_reachable(pgstac_dsn)


def test_unreachable_external_redis_is_a_clear_error(home: Path, no_external: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARTHSIG_REDIS_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(RuntimeError, match="EARTHSIG_REDIS_URL is not reachable"):
        from infra.redis_server import ensure_redis
        ensure_redis(StackSettings(_env_file=None, home=home))
    assert not (home / "redis").exists()


def test_services_start_answer_and_stop(home: Path, no_external: None,
                                        monkeypatch: pytest.MonkeyPatch, redis_url: str,
                                        pgstac_dsn: str) -> None:
    import httpx

    from infra import processes

    monkeypatch.setenv("EARTHSIG_REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", pgstac_dsn)
    stack = Stack(StackSettings(_env_file=None, home=home))
    state = stack.up()
    urls = state.urls()
    assert set(urls) == {"api", "tiler", "ops", "dashboard", "grpc"}
    assert httpx.get(urls["api"]).json()["type"] == "Catalog"
    _grpc_answers_the_demo_client(urls["grpc"], home / "grpc", home / "stubs")
    status = httpx.get(urls["ops"] + "/status").json()
    assert set(status["stages"]) == {"fetch", "infer", "publish"}
    assert "RQ" in httpx.get(urls["dashboard"]).text
    assert stack.up().services == state.services  # twice: the same processes
    pids = [p.pid for p in state.services.values()]
    stack.down()
    assert not any(processes.alive(pid) for pid in pids)
    assert redis.Redis.from_url(redis_url).ping()  # external: left running


def _grpc_answers_the_demo_client(url: str, certs: Path, stubs_dir: Path) -> None:
    """The stack's gRPC service (mutual TLS, certificates the stack made) answers a client
    generated from the published protos with the demo client's certificate."""
    from tests.grpc_api.pilot_client import channel, generate

    stubs_dir.mkdir()
    stubs = generate(stubs_dir)
    with channel(url.removeprefix("grpcs://"), certs, "demo") as ch:
        stub = stubs.v1_grpc.DatabaseProductServiceStub(ch)
        assert list(stub.ListSegmentation(stubs.v1.ListSegmentationRequest(
            product_ids=["S2A_NOT_CATALOGUED"]), timeout=60)) == []
