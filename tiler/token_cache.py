"""What a tiler process keeps of the catalog, used only while the catalog's change tokens say
nothing under it changed.

The tiler keeps a few things it reads from pgstac on almost every request: a collection's
renders (tiler.renders), its model versions (tiler.model_versions), the classes its maps can
contain (tiler.legend), items (tiler.items). Every writer of the catalog marks what it changed
in the tile store's Redis (``tile_generations``): the item, its collection, or the whole
catalog. A :class:`TokenCache` keeps each value with the tokens read *before* it was read, and
gives it back only while they are the same, so a write shows on the very next request; the
tokens are read once per request (:meth:`tiler.tile_store.TileStore.change_tokens`), whatever
number of caches ask. Where no tokens are known (no tile store configured, Redis unreachable)
a value is used for at most ``ttl`` seconds; so it is with tokens too, for the writers that
mark nothing (SQL by hand).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from tiler.tile_store import ChangeTokens, TileStore

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Tokens = tuple[str, ...]


class TokenCache(Generic[K, V]):
    """Values (never None) by key, each with the tokens it was read under (None: unknown),
    for ``ttl`` seconds at most (0: nothing is kept), ``maxsize`` of them; ``follows`` picks
    of a request's tokens those the values depend on (e.g. ``ChangeTokens.of_collection``)."""

    def __init__(self, ttl: float, follows: Callable[[ChangeTokens], Tokens],
                 maxsize: int = 256) -> None:
        self.ttl, self.follows = ttl, follows
        self._entries: TTLCache[K, tuple[Tokens | None, V]] | None = (
            TTLCache(maxsize=maxsize, ttl=ttl) if ttl > 0 else None)
        self._lock = threading.Lock()  # TTLCache is not thread-safe; some users run in a pool

    def get(self, key: K, tokens: ChangeTokens | None) -> V | None:
        """The value kept under the same ``tokens``; None when there is none, or it was read
        under others. Tokens unknown now: the time to live alone decides."""
        if self._entries is None:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or (tokens is not None and entry[0] != self.follows(tokens)):
            return None
        return entry[1]

    def put(self, key: K, tokens: ChangeTokens | None, value: V) -> None:
        """Keep ``value``, read after ``tokens`` were."""
        if self._entries is not None:
            kept = self.follows(tokens) if tokens is not None else None
            with self._lock:
                self._entries[key] = (kept, value)

    def get_or_read(self, key: K, tokens: ChangeTokens | None, read: Callable[[], V]) -> V:
        """The value kept under ``tokens``, else ``read()`` kept (what it raises is not)."""
        value = self.get(key, tokens)
        if value is None:
            value = read()
            self.put(key, tokens, value)
        return value

    async def get_or_read_async(self, key: K, tokens: ChangeTokens | None,
                                read: Callable[[], V]) -> V:
        """:meth:`get_or_read` for the event loop: ``read`` (blocking) runs in a thread."""
        value = self.get(key, tokens)
        if value is None:
            value = await run_in_threadpool(read)
            self.put(key, tokens, value)
        return value


async def request_tokens(store: TileStore | None, scope: Scope, collection: str,
                         item: str | None = None) -> ChangeTokens | None:
    """The request's change tokens (see :meth:`TileStore.change_tokens`); None without a
    store. Callers under an item's routes name the item, so that they share one read."""
    return None if store is None else await store.change_tokens(scope, collection, item)
