"""A pypgstac database session that closes what it opens.

``PgstacDB`` used as a context manager returns its connection but drops (without closing) the
pool it created, leaving connections and pool threads behind; here the pool is ours to close.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from psycopg_pool import ConnectionPool
from pypgstac.db import PgstacDB


@contextmanager
def pgstac_session(dsn: str = "") -> Iterator[PgstacDB]:
    """An open PgstacDB on ``dsn`` (empty: the libpq PG* variables)."""
    # A short wait: an unreachable database is a transient failure that RQ retries later.
    pool = ConnectionPool(conninfo=dsn, min_size=1, max_size=1, open=True, timeout=10)
    try:
        with PgstacDB(dsn=dsn, pool=pool) as db:
            yield db
    finally:
        pool.close()
