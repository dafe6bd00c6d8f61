"""The item of ``/collections/{collection_id}/items/{item_id}/...`` requests, briefly cached.

titiler-pgstac's ``ItemIdParams`` caches items for ``TITILER_PGSTAC_CACHE_TTL`` (5 minutes by
default): a map showing an item asks for dozens of tiles a second, each of which would otherwise
run a pgstac search and build a ``pystac.Item``. But a re-processed item points at a new run
folder, and the pipeline deletes the old one right after publishing: a 5-minute cache then
answers 404 (asset file gone) for minutes. Here the cache is short (``item_cache_ttl``, 0 = off)
and an entry is used only while every local asset file it names still exists (one ``stat`` per
asset); otherwise the item is read again from pgstac.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

import pystac
from cachetools import TTLCache
from fastapi import Path, Request
from psycopg_pool import ConnectionPool
from titiler.pgstac.dependencies import get_stac_item

from tiler.tile_store import FRESH_READS

# Upstream's reader without its own 5-minute cache (keeps its retry and its 404).
_fetch_item: Callable[[ConnectionPool, str, str], pystac.Item] = get_stac_item.__wrapped__

MAX_CACHED_ITEMS = 1024


def _local_assets_exist(item: pystac.Item) -> bool:
    for asset in item.assets.values():
        href = asset.href
        if not urlsplit(href).scheme and href.startswith("/") and not os.path.isfile(href):
            return False
    return True


class ItemCache:
    """pgstac items by (collection, item id) for ``ttl`` seconds, dropped when a file is gone."""

    def __init__(self, ttl: float, maxsize: int = MAX_CACHED_ITEMS) -> None:
        self.ttl = ttl
        self._items: TTLCache[tuple[str, str], pystac.Item] | None = (
            TTLCache(maxsize=maxsize, ttl=ttl) if ttl > 0 else None
        )
        self._lock = threading.Lock()  # TTLCache is not thread-safe; routes run in a pool

    def get(self, pool: ConnectionPool, collection_id: str, item_id: str) -> pystac.Item:
        """The item, from the cache when fresh and its files exist, else from pgstac."""
        if self._items is None:
            return _fetch_item(pool, collection_id, item_id)
        key = (collection_id, item_id)
        with self._lock:
            item = self._items.get(key)
        if item is not None and _local_assets_exist(item):
            return item
        item = _fetch_item(pool, collection_id, item_id)
        with self._lock:
            self._items[key] = item
        return item


def item_dependency(cache: ItemCache) -> Callable[..., pystac.Item]:
    """A FastAPI dependency for ``{collection_id}`` / ``{item_id}`` paths (as ``ItemIdParams``)."""

    def item_params(
        request: Request,
        collection_id: Annotated[str, Path(description="STAC Collection Identifier")],
        item_id: Annotated[str, Path(description="STAC Item Identifier")],
    ) -> pystac.Item:
        pool = request.app.state.dbpool
        if request.scope.get(FRESH_READS):  # its tile goes to the shared store
            return _fetch_item(pool, collection_id, item_id)
        return cache.get(pool, collection_id, item_id)

    return item_params
