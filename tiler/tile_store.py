"""Rendered catalog tiles kept in Redis, shared by every tiler process, until the catalog
under them changes.

Item tiles (``/collections/{c}/items/{i}/tiles/WebMercatorQuad/...``) and mosaic tiles
(``/collections/{c}/tiles/WebMercatorQuad/...``, ``/searches/{id}/tiles/WebMercatorQuad/...``)
are kept with the change tokens they were drawn under (tile_generations): the
catalog's, and the item's or the tile's cell. A tile is served again only while those tokens
are unchanged, so a registration shows at once, and a tile nobody changed is drawn once a day
(``ttl_s``) instead of once every 30 s. The pipeline draws a product's tiles ahead when it
publishes it (ingest.catalog.seed), so the first map user gets them from here. The same
Redis gives the tiler's in-process caches of the catalog their tokens (the catalog's, a
collection's, an item's, read once per request by ``change_tokens``; tiler.token_cache).

Tokens are read before anything else of the request: the request is marked so that the reads
behind it (the item, a mosaic's assets) skip the in-process caches, which could hold data
older than the tokens. The collection's default render is filled in before (from its cache,
kept under the catalog's token), and the key holds the parameters it filled in, so a tile and
its key agree.
The store is bounded (``max_bytes``, oldest out first) and expires what nobody asked again;
Redis being unreachable costs a warning, never a tile. Keys include the versions of the
drawing software, so an upgrade draws every tile again; ``earthsig tiles redraw`` does the
same for writes the store cannot see (other tools).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import cast
from urllib.parse import parse_qsl, urlencode

import psycopg
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

import tile_generations as gen

log = logging.getLogger(__name__)

# Set in a request's scope when its answer goes to the store: read the catalog, not a cache.
FRESH_READS = "earthsig.fresh_catalog_reads"
# A request's change tokens, once read: every cache behind it uses the same round trip.
REQUEST_TOKENS = "earthsig.change_tokens"

_ITEM_TILE = re.compile(r"^/collections/(?P<collection>[^/]+)/items/(?P<item>[^/]+)"
                        r"/tiles/WebMercatorQuad/(?P<z>\d+)/(?P<x>\d+)/(?P<y>\d+)")
_MOSAIC_TILE = re.compile(r"^/(?:collections|searches)/[^/]+"
                          r"/tiles/WebMercatorQuad/(?P<z>\d+)/(?P<x>\d+)/(?P<y>\d+)")
_SCALED = re.compile(r"@\d+x(\.\w+)?$")
# Keep one tile (value, time, time to live, budget); forget expired entries; evict the oldest
# while over the budget. Returns the bytes held.
_KEEP = """
local entry, index, sizes, total = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, ttl, budget = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local old = tonumber(redis.call('HGET', sizes, entry) or '0')
redis.call('SET', entry, ARGV[1], 'EX', ttl)
redis.call('ZADD', index, now, entry)
redis.call('HSET', sizes, entry, string.len(ARGV[1]))
local used = redis.call('INCRBY', total, string.len(ARGV[1]) - old)
local function forget(member)
  used = redis.call('INCRBY', total, -tonumber(redis.call('HGET', sizes, member) or '0'))
  redis.call('HDEL', sizes, member)
  redis.call('ZREM', index, member)
  redis.call('DEL', member)
end
for _, member in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now - ttl, 'LIMIT', 0, 64)) do
  forget(member)
end
while used > budget do
  local oldest = redis.call('ZRANGE', index, 0, 0)
  if #oldest == 0 then break end
  forget(oldest[1])
end
for _, key in ipairs({index, sizes, total}) do redis.call('EXPIRE', key, ttl) end
return used
"""


def drawing_software() -> str:
    """The versions that decide how a tile is drawn: an upgrade draws every tile again."""
    names = ("earthsignature", "titiler.core", "titiler.pgstac", "rio-tiler", "rasterio")
    return ",".join(f"{name}={_version(name)}" for name in names)


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def token_keys(namespace: str, path: str) -> list[str] | None:
    """The tokens a tile route's answer depends on; None for a route the store does not keep
    (other tiling schemes, ``/cog`` URLs)."""
    if match := _ITEM_TILE.match(path):
        return [gen.catalog_key(namespace),
                gen.item_key(namespace, match["collection"], match["item"])]
    if match := _MOSAIC_TILE.match(path):
        cell = gen.cell_of_tile(int(match["z"]), int(match["x"]), int(match["y"]))
        return [gen.catalog_key(namespace), gen.cell_key(namespace, *cell)]
    return None


def canonical_query(path: str, query_string: bytes) -> list[tuple[str, str]]:
    """The query as the caches key it: in one order (the client's is its whim), without
    ``tilesize=256`` on a tile without a scale suffix (the web map sends it; it is the
    default, so the tile is the one drawn ahead without it)."""
    query = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    if not _SCALED.search(path):
        query = [(k, v) for k, v in query if (k, v) != ("tilesize", "256")]
    return sorted(query)


@dataclass(frozen=True)
class StoredTile:
    tokens: list[str]
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def encode(self) -> bytes:
        head = {"tokens": self.tokens,
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers]}
        return json.dumps(head).encode() + b"\n" + self.body

    @classmethod
    def decode(cls, raw: bytes) -> StoredTile:
        head, body = raw.split(b"\n", 1)
        meta = json.loads(head)
        return cls(meta["tokens"],
                   [(k.encode("latin-1"), v.encode("latin-1")) for k, v in meta["headers"]], body)


@dataclass(frozen=True)
class Lookup:
    """A request's place in the store: its entry key, the tokens read, the tile if current."""

    namespace: str
    key: str
    tokens: list[str]
    tile: StoredTile | None


@dataclass(frozen=True)
class ChangeTokens:
    """A request's change tokens ('' for one never set), and those of them a value read from
    the catalog depends on, by what it was read from."""

    catalog: str
    collection: str
    item: str = ""  # '' too where the request named no item

    def of_definitions(self) -> tuple[str, ...]:
        """For a collection's own document (its renders): collection writes mark the catalog."""
        return (self.catalog,)

    def of_collection(self) -> tuple[str, ...]:
        """For what a collection's items make of it (its models summary, its classes): every
        item write marks its collection."""
        return (self.catalog, self.collection)

    def of_item(self) -> tuple[str, ...]:
        """For one item: every write of it (re-published, deleted) marks it."""
        return (self.catalog, self.item)


class TileStore:
    """Tiles in Redis at ``url`` for ``ttl_s``, within ``max_bytes`` per catalog."""

    def __init__(self, url: str, ttl_s: int, max_bytes: int) -> None:
        self.url, self.ttl_s, self.max_bytes = url, ttl_s, max_bytes
        self.redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._keep = self.redis.register_script(_KEEP)
        self._namespace: str | None = None
        self._warned_at = 0.0
        self.software = drawing_software()

    async def namespace(self, scope: Scope) -> str:
        """The catalog's namespace, read once from the tiler's database."""
        if self._namespace is None:
            pool = scope["app"].state.dbpool

            def read() -> str:
                with pool.connection() as conn:
                    return str(conn.execute(gen.NAMESPACE_SQL).fetchone()[0])

            self._namespace = await run_in_threadpool(read)
        return self._namespace

    async def lookup(self, scope: Scope) -> Lookup | None:
        """Read the request's tokens and stored tile; None when the store does not apply or
        cannot be reached (the tile is then drawn and not kept)."""
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        try:
            namespace = await self.namespace(scope)
            keys = token_keys(namespace, path)
            if keys is None:
                return None
            query = canonical_query(path, scope.get("query_string", b""))
            request = f"{self.software}|{path}?{urlencode(query)}".encode()
            key = f"{gen.PREFIX}:{namespace}:tile:{hashlib.sha1(request).hexdigest()}"
            *tokens, raw = cast(list[bytes | None], await self.redis.mget([*keys, key]))
        except (RedisError, OSError, psycopg.Error) as exc:  # the request fails its own way
            self._warn(exc)
            return None
        current = [t.decode() if t else "" for t in tokens]
        try:
            tile = StoredTile.decode(raw) if raw else None
        except (ValueError, KeyError):  # not ours, or damaged: drawn again and replaced
            tile = None
        return Lookup(namespace, key, current,
                      tile if tile is not None and tile.tokens == current else None)

    async def change_tokens(self, scope: Scope, collection: str,
                            item: str | None = None) -> ChangeTokens | None:
        """The catalog's, ``collection``'s and ``item``'s change tokens, read in one round trip
        the first time a request asks (kept in its scope: a middleware's copy of the scope
        carries them inward); None when unreachable."""
        memo: dict[tuple[str, str | None], ChangeTokens | None] = scope.setdefault(
            REQUEST_TOKENS, {})
        if (collection, item) not in memo:
            memo[collection, item] = await self._read_tokens(scope, collection, item)
        return memo[collection, item]

    async def _read_tokens(self, scope: Scope, collection: str,
                           item: str | None) -> ChangeTokens | None:
        try:
            namespace = await self.namespace(scope)
            keys = [gen.catalog_key(namespace), gen.collection_key(namespace, collection)]
            if item is not None:
                keys.append(gen.item_key(namespace, collection, item))
            found = cast(list[bytes | None], await self.redis.mget(keys))
        except (RedisError, OSError, psycopg.Error) as exc:
            self._warn(exc)
            return None
        return ChangeTokens(*(t.decode() if t else "" for t in found))

    async def keep(self, lookup: Lookup, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Keep a tile drawn after ``lookup`` under the tokens read then."""
        if len(body) > self.max_bytes // 16:  # one huge tile must not empty the store
            return
        base = f"{gen.PREFIX}:{lookup.namespace}:store"
        value = StoredTile(lookup.tokens, headers, body).encode()
        try:
            await self._keep(keys=[lookup.key, f"{base}:index", f"{base}:sizes",
                                   f"{base}:bytes"],
                             args=[value, time.time(), self.ttl_s, self.max_bytes])
        except (RedisError, OSError) as exc:
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:  # once a minute, not once a tile
            self._warned_at = now
            log.warning("tile store %s unavailable, drawing tiles without it: %s", self.url, exc)

    async def close(self) -> None:
        await self.redis.aclose()
