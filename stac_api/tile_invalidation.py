"""Writes through the API mark the stored tiles they change (tiler.tile_store).

An item write (create, update, patch, delete, bulk) marks what the pipeline's registrations
mark (``tile_generations``): each written item's own key and the map cells
under its footprint before the write and after it, both read from the database, so an item
moved or deleted also redraws where it was. A collection write marks the whole catalog (its
default render may have changed), as does anything this middleware cannot place. Marked after
the handler committed, before the answer leaves, so a client that saw its write succeed never
gets an older tile. A store that cannot be reached is logged: the write itself has succeeded.
The same footprints go to the low-zoom pyramid's redraw (``stac_api/pyramid_jobs.py``) when the
API queues it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stac_api.auth import READ_POSTS, WRITE_METHODS
from stac_api.pyramid_jobs import PyramidJobs
from tile_generations import (
    NAMESPACE_SQL,
    TOKEN_TTL_S,
    ItemChange,
    catalog_key,
    changed_keys,
    new_token,
)

log = logging.getLogger(__name__)

ITEM_PATHS = re.compile(r"/collections/(?P<collection>[^/]+)/"
                        r"(?:items(?:/(?P<item>[^/]+))?|(?P<bulk>bulk_items))/?")
BBOXES_SQL = ("SELECT id, ST_XMin(geometry), ST_YMin(geometry), ST_XMax(geometry), "
              "ST_YMax(geometry) FROM pgstac.items WHERE collection = $1 AND id = ANY($2)")


@dataclass(frozen=True)
class ItemWrite:
    """The items a write names: its collection and their ids."""

    collection: str
    ids: tuple[str, ...]


def item_write(path: str, prefix: str, body: bytes) -> ItemWrite | None:
    """The items written by a request to ``path`` with ``body``; None when it is not an item
    write or its items cannot be told (then the whole catalog is marked)."""
    match = ITEM_PATHS.fullmatch(path.removeprefix(prefix)) if path.startswith(prefix) else None
    if match is None:
        return None
    collection = unquote(match["collection"])
    if match["item"] is not None:
        return ItemWrite(collection, (unquote(match["item"]),))
    try:
        document = json.loads(body)
        if match["bulk"] is not None:  # {"items": {id: item}}
            ids = [str(item["id"]) for item in document["items"].values()]
        elif document.get("type") == "FeatureCollection":
            ids = [str(feature["id"]) for feature in document["features"]]
        else:
            ids = [str(document["id"])]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return ItemWrite(collection, tuple(ids))


class TileInvalidationMiddleware:
    """Mark the tiles a successful write (2xx) changed in the tile store (``url``, if any) and
    queue the redraw of the pyramid under them (``pyramid``, if any)."""

    def __init__(self, app: ASGIApp, url: str = "", prefix: str = "",
                 key_header: str = "X-API-Key", pyramid: PyramidJobs | None = None) -> None:
        self.app, self.url, self.prefix, self.pyramid = app, url, prefix, pyramid
        self.key_header = key_header.lower().encode()
        self.reads = {prefix + path for path in READ_POSTS}
        self._namespace: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in WRITE_METHODS
                or (scope["method"] == "POST" and scope["path"].rstrip("/") in self.reads)
                or not any(name == self.key_header for name, _ in scope["headers"])):
            # Not a write, or one the key guard refuses (401) before it changes anything.
            await self.app(scope, receive, send)
            return
        # The body names the items of a create or bulk write: read it whole, then hand it on.
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
        write = item_write(scope["path"], self.prefix, body)
        before = await self._changes(scope, write)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def marking(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                after = await self._changes(scope, write)
                changes = None if before is None or after is None else [*before, *after]
                if self.url:
                    await self.mark(scope, changes)
                if self.pyramid is not None and write is not None:
                    await self.pyramid.after_write(changes, write.collection)
            await send(message)

        await self.app(scope, replay, marking)

    async def _changes(self, scope: Scope, write: ItemWrite | None) -> list[ItemChange] | None:
        """The written items as the database holds them now (with their footprints); None
        when unknown."""
        if write is None:
            return None
        try:
            rows = await scope["app"].state.readpool.fetch(BBOXES_SQL, write.collection,
                                                           list(write.ids))
        except Exception as exc:  # noqa: BLE001 - any failure here falls back to the catalog
            log.warning("tile store: footprints of %s not read (%s): marking the catalog",
                        write.ids[:3], exc)
            return None
        found = {row[0]: tuple(row[1:]) for row in rows}
        return [ItemChange(write.collection, item_id,
                           _bbox(found[item_id]) if item_id in found else None)
                for item_id in write.ids]

    async def mark(self, scope: Scope, changes: list[ItemChange] | None) -> None:
        """Set fresh tokens on what ``changes`` touch; the catalog's when None."""
        try:
            if self._namespace is None:
                pool = scope["app"].state.readpool  # asyncpg, opened by the lifespan
                self._namespace = str(await pool.fetchval(NAMESPACE_SQL))
            keys = None if changes is None else changed_keys(self._namespace, changes)
            if keys is None:
                keys = {catalog_key(self._namespace)}
            token = new_token()
            async with (Redis.from_url(self.url, socket_timeout=5) as redis,
                        redis.pipeline(transaction=False) as pipe):
                for key in keys:
                    pipe.set(key, token, ex=TOKEN_TTL_S)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.error("tile store %s not told of a write to %s (stored tiles may show the "
                      "catalog before it for up to their time to live): %s",
                      self.url, scope["path"], exc)


def _bbox(values: tuple[Any, ...]) -> tuple[float, float, float, float] | None:
    if any(v is None for v in values):
        return None
    west, south, east, north = (float(v) for v in values)
    return west, south, east, north
