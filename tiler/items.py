"""The item of ``/collections/{collection_id}/items/{item_id}/...`` requests, briefly cached.

titiler-pgstac's ``ItemIdParams`` caches items for ``TITILER_PGSTAC_CACHE_TTL`` (5 minutes by
default): a map showing an item asks for dozens of tiles a second, each of which would otherwise
run a pgstac search and build a ``pystac.Item``. But an item re-published (re-processed, same
id) points at a new run folder, and one deleted is gone: a cache that outlives them serves old
pixels or a removed product. Here an entry is kept under the catalog's and the item's change
tokens (tiler.token_cache: a registration, a ``retire`` or a STAC API write of the item marks
its token), so the next request after such a write reads the item again; and used only while
every local asset file it names still exists (one ``stat`` per asset: the earlier run is
deleted right after the new one is published) and for ``item_cache_ttl`` seconds at most
(0 = off; the only bound where there are no tokens: no tile store, Redis unreachable).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

import pystac
from fastapi import Depends, Path, Request
from psycopg_pool import ConnectionPool
from titiler.pgstac.dependencies import get_stac_item

from tiler.tile_store import FRESH_READS, ChangeTokens, TileStore
from tiler.token_cache import TokenCache, request_tokens

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
    """pgstac items by (collection, item id) while the item's change tokens are unchanged,
    for ``ttl`` seconds at most, dropped when a file is gone."""

    def __init__(self, ttl: float, maxsize: int = MAX_CACHED_ITEMS) -> None:
        self.ttl = ttl
        # Every write of an item marks its own token.
        self._items: TokenCache[tuple[str, str], pystac.Item] = TokenCache(
            ttl, ChangeTokens.of_item, maxsize)

    def get(self, pool: ConnectionPool, collection_id: str, item_id: str,
            tokens: ChangeTokens | None = None) -> pystac.Item:
        """The item, from the cache when kept under ``tokens`` and its files exist, else from
        pgstac."""
        key = (collection_id, item_id)
        item = self._items.get(key, tokens)
        if item is not None and _local_assets_exist(item):
            return item
        item = _fetch_item(pool, collection_id, item_id)
        self._items.put(key, tokens, item)
        return item


def item_dependency(cache: ItemCache, store: TileStore | None = None
                    ) -> Callable[..., pystac.Item]:
    """A FastAPI dependency for ``{collection_id}`` / ``{item_id}`` paths (as ``ItemIdParams``),
    reading the item under ``store``'s change tokens."""

    async def item_tokens(
        request: Request,
        collection_id: Annotated[str, Path(description="STAC Collection Identifier")],
        item_id: Annotated[str, Path(description="STAC Item Identifier")],
    ) -> ChangeTokens | None:
        # In the event loop, before the item is read; the render defaults may have read them.
        if request.scope.get(FRESH_READS) or cache.ttl <= 0:  # no cache is used
            return None
        return await request_tokens(store, request.scope, collection_id, item_id)

    def item_params(
        request: Request,
        collection_id: Annotated[str, Path(description="STAC Collection Identifier")],
        item_id: Annotated[str, Path(description="STAC Item Identifier")],
        tokens: ChangeTokens | None = Depends(item_tokens),  # noqa: B008
    ) -> pystac.Item:
        pool = request.app.state.dbpool
        if request.scope.get(FRESH_READS):  # its tile goes to the shared store
            return _fetch_item(pool, collection_id, item_id)
        return cache.get(pool, collection_id, item_id, tokens)

    return item_params
