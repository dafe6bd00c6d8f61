"""Telling the tiler's tile store what a catalog write changed (tile_generations).

Called after each write is committed; without a configured store (``EARTHSIG_TILE_STORE_URL``)
nothing is done. A store that cannot be told is a transient failure: the job is retried, and
its idempotent write marks the tiles then, rather than stored tiles showing old pixels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pypgstac.db import PgstacDB
from redis import Redis
from redis.exceptions import RedisError

from ingest.catalog.pgstac_db import pgstac_session
from ingest.errors import TransientError
from ingest.settings import IngestSettings
from tile_generations import NAMESPACE_SQL, ItemChange, mark_changed


def catalog_namespace(db: PgstacDB) -> str:
    return str(next(iter(db.query(NAMESPACE_SQL)))[0])


def mark_tiles_changed(db: PgstacDB, items: Iterable[dict[str, Any]], *, catalog: bool = False,
                       settings: IngestSettings | None = None) -> None:
    """Mark the tiles of ``items`` (dicts with collection, id and bbox) as changed; all tiles
    of the catalog when ``catalog`` (a collection's definition changed)."""
    url = (settings or IngestSettings()).tile_store_url
    if not url:
        return
    changes = [ItemChange.of(item) for item in items]
    try:
        with Redis.from_url(url, socket_timeout=10) as redis:
            mark_changed(redis, catalog_namespace(db), changes, catalog=catalog)
    except (RedisError, OSError) as exc:
        ids = ", ".join(c.item_id for c in changes[:3]) or "the catalog"
        raise TransientError(f"tile store {url} unavailable after writing {ids}: {exc}") from exc


def redraw_all(dsn: str = "", settings: IngestSettings | None = None) -> bool:
    """Mark every stored tile of the catalog at ``dsn`` changed (``earthsig tiles redraw``);
    False when no tile store is configured."""
    settings = settings or IngestSettings()
    if not settings.tile_store_url:
        return False
    with pgstac_session(dsn) as db:
        mark_tiles_changed(db, [], catalog=True, settings=settings)
    return True
