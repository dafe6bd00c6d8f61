"""`database_online`, the check behind `/healthz`, on a live and on a dead database."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from tests.servers import free_port
from tiler.health import database_online


def test_online_on_a_live_database(pgstac_dsn: str) -> None:
    with ConnectionPool(pgstac_dsn, min_size=1, max_size=1, open=True) as pool:
        assert database_online(pool, timeout=5) is True


def test_offline_when_nothing_listens() -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=1"
    with ConnectionPool(dead, min_size=0, max_size=1, open=True) as pool:
        assert database_online(pool, timeout=0.5) is False
