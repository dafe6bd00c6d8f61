"""Writes through the API mark every stored tile of the catalog changed (tiler.tile_store).

The pipeline marks exactly the tiles its items touch (ingest.tile_changes); writes here are an
operator's corrections, rare, and an update or delete would need the item's previous footprint
as well: the whole catalog's tiles are drawn again instead. Marked after the handler committed,
before the answer leaves, so a client that saw its write succeed never gets an older tile. A
store that cannot be reached is logged: the write itself has succeeded.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog_schemas.tile_generations import (
    NAMESPACE_SQL,
    TOKEN_TTL_S,
    catalog_key,
    new_token,
)
from stac_api.auth import READ_POSTS, WRITE_METHODS

log = logging.getLogger(__name__)


class TileChangesMiddleware:
    """Mark the catalog's tiles changed after each successful write (2xx)."""

    def __init__(self, app: ASGIApp, url: str, prefix: str = "") -> None:
        self.app, self.url = app, url
        self.reads = {prefix + path for path in READ_POSTS}
        self._namespace: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in WRITE_METHODS
                or (scope["method"] == "POST" and scope["path"].rstrip("/") in self.reads)):
            await self.app(scope, receive, send)
            return

        async def marking(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                await self.mark(scope)
            await send(message)

        await self.app(scope, receive, marking)

    async def mark(self, scope: Scope) -> None:
        try:
            if self._namespace is None:
                pool = scope["app"].state.readpool  # asyncpg, opened by the lifespan
                self._namespace = str(await pool.fetchval(NAMESPACE_SQL))
            async with Redis.from_url(self.url, socket_timeout=5) as redis:
                await redis.set(catalog_key(self._namespace), new_token(), ex=TOKEN_TTL_S)
        except (RedisError, OSError) as exc:
            log.error("tile store %s not told of a write to %s (stored tiles may show the "
                      "catalog before it for up to their time to live): %s",
                      self.url, scope["path"], exc)
