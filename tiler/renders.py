"""A collection's default render applied to requests that name no layer.

``/collections/landcover/tiles/WebMercatorQuad/{z}/{x}/{y}.png`` with no query should show the
land cover in CLC colours, as the collection's STAC ``renders`` say (assets, colormap,
resampling). titiler only reads query parameters, so the render is merged into the query
string before routing; parameters the client gave win. Zoom limits are the backend's concern.

The renders are kept in memory under the catalog's change token (tiler.token_cache): a
collection written through the STAC API, or redefined by a registration, marks it, so a new
default render is used from the next request on; without a tile store, after ``ttl`` seconds.
"""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlencode

from psycopg_pool import ConnectionPool
from starlette.types import ASGIApp, Receive, Scope, Send

from tiler.tile_store import ChangeTokens, TileStore
from tiler.token_cache import TokenCache, request_tokens

# Any route under a collection (its mosaic or one of its items).
_COLLECTION_PATH = re.compile(r"/collections/(?P<collection>[^/]+)/(?:items/(?P<item>[^/]+)/)?")
# A request naming any of these has chosen its layer: leave it alone.
_LAYER_KEYS = {"assets", "expression", "bidx"}
# A client giving either of these chose the colours: the render's other one must not override.
_COLOUR_KEYS = {"colormap", "colormap_name"}
# Render fields that are titiler query parameters, in titiler's spelling.
_QUERY_KEYS = ("assets", "colormap_name", "colormap", "resampling", "nodata", "rescale",
               "color_formula", "expression")


def render_query(render: dict[str, Any]) -> list[tuple[str, str]]:
    """A STAC render object as titiler query parameters."""
    pairs: list[tuple[str, str]] = []
    for key in _QUERY_KEYS:
        value = render.get(key)
        if value is None:
            continue
        if key == "assets":
            pairs += [("assets", str(asset)) for asset in value]
        elif key == "rescale":
            pairs += [("rescale", ",".join(map(str, pair))) for pair in value]
        elif key == "colormap":
            pairs.append((key, json.dumps(value)))
        else:
            pairs.append((key, str(value)))
    return pairs


def default_render(
    renders: dict[str, dict[str, Any]], collection_id: str, name: str | None = None
) -> dict[str, Any] | None:
    """``name``'s render; else the one named ``default`` or after the collection; else the only
    one; else none (ambiguous: the client must choose)."""
    if name is not None:
        return renders.get(name)
    for key in ("default", collection_id):
        if key in renders:
            return renders[key]
    return next(iter(renders.values())) if len(renders) == 1 else None


def collection_renders(pool: ConnectionPool, collection_id: str) -> dict[str, dict[str, Any]]:
    """The collection's ``renders`` ({} when it has none or does not exist)."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT content->'renders' FROM pgstac.collections WHERE id = %s", (collection_id,)
        ).fetchone()
    return (row[0] if row else None) or {}


class RenderDefaultsMiddleware:
    """Fill in a collection's default render on GET requests that name no layer; the renders
    are read again when ``store``'s change tokens say the catalog changed, or after ``ttl``
    seconds."""

    def __init__(self, app: ASGIApp, store: TileStore | None = None, ttl: float = 60.0) -> None:
        self.app, self.store = app, store
        # Part of the collection's own document, whose writes mark the catalog.
        self._renders: TokenCache[str, dict[str, dict[str, Any]]] = TokenCache(
            ttl, ChangeTokens.of_definitions)

    async def _renders_of(self, scope: Scope, collection_id: str,
                          item_id: str | None) -> dict[str, dict[str, Any]]:
        # With the item an item's route has: the item lookup behind reads the same tokens.
        tokens = await request_tokens(self.store, scope, collection_id, item_id)
        pool: ConnectionPool = scope["app"].state.dbpool
        return await self._renders.get_or_read_async(
            collection_id, tokens, partial(collection_renders, pool, collection_id))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _COLLECTION_PATH.search(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = {key for key, _ in query}
        if given & _LAYER_KEYS:
            await self.app(scope, receive, send)
            return
        renders = await self._renders_of(scope, match["collection"], match["item"])
        render = default_render(renders, match["collection"], dict(query).get("render"))
        if render:
            taken = given | (_COLOUR_KEYS if given & _COLOUR_KEYS else set())
            extra = [(k, v) for k, v in render_query(render) if k not in taken]
            scope = {**scope, "query_string": urlencode(query + extra).encode("latin-1")}
        await self.app(scope, receive, send)

