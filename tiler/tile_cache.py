"""Rendered tiles kept in memory for a few seconds and shared by every client.

A web map or a QGIS layer asks for the same tiles from many clients at once (everyone opening
the map sees the same z8 tiles), and rendering one is tens of milliseconds of CPU. Successful
image answers of ``.../tiles/{tms}/{z}/{x}/{y}`` routes are kept for ``ttl`` seconds under
their path and query string, within ``max_bytes`` (least recently used out first); anything
else (errors, 204s, JSON, other routes) passes through untouched. Answers carry
``X-Tile-Cache: hit`` or ``miss``.

Staleness is bounded by ``ttl``, well below the ``Cache-Control`` max-age browsers are already
given and titiler-pgstac's 5-minute cache of which items cover a mosaic tile.

With a shared :class:`~tiler.tile_store.TileStore`, catalog tiles (items, collections and
searches in WebMercatorQuad) are kept there instead, until the catalog under them changes;
this memory cache keeps the rest (``/cog`` tiles, other tiling schemes).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiler.tile_store import FRESH_READS, TileStore, canonical_query

# Tile routes of every factory: /cog, items, collections, searches; with @2x and a format.
_TILE_PATH = re.compile(r"/tiles/[^/]+/\d+/\d+/\d+(@\d+x)?(\.\w+)?$")
CACHE_HEADER = b"x-tile-cache"


@dataclass(frozen=True)
class _Entry:
    expires: float
    headers: list[tuple[bytes, bytes]]
    body: bytes


class TileCache:
    """Tile bodies by request key, with a time to live and a total size bound."""

    def __init__(self, ttl: float, max_bytes: int) -> None:
        self.ttl, self.max_bytes = ttl, max_bytes
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self.size = 0

    def get(self, key: bytes) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires < time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        if len(body) > self.max_bytes // 16:  # one huge tile must not empty the cache
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(time.monotonic() + self.ttl, headers, body)
        self.size += len(body)
        while self.size > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: bytes) -> None:
        self.size -= len(self._entries.pop(key).body)


Keep = Callable[[list[tuple[bytes, bytes]], bytes], Awaitable[None]]


class TileCacheMiddleware:
    """Serve repeated GETs of tile routes from the shared :class:`TileStore` (catalog tiles,
    when configured) or a :class:`TileCache` (``ttl`` 0: off)."""

    def __init__(self, app: ASGIApp, ttl: float, max_bytes: int,
                 store: TileStore | None = None) -> None:
        self.app = app
        self.cache = TileCache(ttl, max_bytes) if ttl > 0 else None
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "GET"
                or not _TILE_PATH.search(scope["path"])):
            await self.app(scope, receive, send)
            return
        if _no_cache(scope):
            # ``Cache-Control: no-cache`` (RFC 9111: answer from the origin): drawn from the
            # catalog as it is now, kept nowhere. The pyramid's base tiles right after a
            # registration, before any change token could reach this tiler, are read so.
            await self.app({**scope, FRESH_READS: True}, receive, send)
            return
        found = await self.store.lookup(scope) if self.store is not None else None
        if found is not None and self.store is not None:
            if found.tile is not None:
                await _send_hit(send, found.tile.headers, found.tile.body)
                return
            await self.app({**scope, FRESH_READS: True}, receive,
                           _recording(send, partial(self.store.keep, found)))
            return
        if self.cache is None:
            await self.app(scope, receive, send)
            return
        # Keyed as the store keys: one tile whatever the order of its parameters.
        query = urlencode(canonical_query(scope["path"], scope.get("query_string", b"")))
        key = f"{scope['path']}?{query}".encode()
        entry = self.cache.get(key)
        if entry is not None:
            await _send_hit(send, entry.headers, entry.body)
            return

        async def put(headers: list[tuple[bytes, bytes]], body: bytes) -> None:
            assert self.cache is not None
            self.cache.put(key, headers, body)

        await self.app(scope, receive, _recording(send, put))


def _no_cache(scope: Scope) -> bool:
    return any(name == b"cache-control" and b"no-cache" in value.lower()
               for name, value in scope.get("headers", []))


async def _send_hit(send: Send, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [*headers, (CACHE_HEADER, b"hit")]})
    await send({"type": "http.response.body", "body": body})


def _recording(send: Send, keep: Keep) -> Send:
    """``send``, marking the answer a miss and handing a cacheable one to ``keep``."""
    start: Message = {}
    chunks: list[bytes] = []

    async def record(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            message = {**message, "headers": [*message.get("headers", []),
                                               (CACHE_HEADER, b"miss")]}
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False) and _cacheable(start):
                await send(message)  # the client first, the cache after
                await keep(list(start.get("headers", [])), b"".join(chunks))
                return
        await send(message)

    return record


def _cacheable(start: Message) -> bool:
    if start.get("status") != 200:
        return False
    headers = dict(start.get("headers", []))
    return headers.get(b"content-type", b"").startswith(b"image/")
