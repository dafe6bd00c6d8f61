"""One model version per map: a collection's mosaic shows the active version of each model.

Several versions of a model can be registered at once (a reprocess with version 2 runs for
days while version 1 stays active), and a mosaic of both would show their seams side by side.
The collection's ``earthsig:model`` summary lists the models its items come from; the active
version of each is ``EARTHSIG_INFERENCE_ACTIVE_VERSIONS`` (the pipeline's setting) or else
the highest registered, the model repository's own rule. Mosaic requests (tiles, TileJSON,
WMTS, point and area reads of ``/collections/{id}/...``, not its items) that bring no CQL2
``filter`` get one selecting those versions, merged into the query string before routing
(and before the tile cache, whose keys are the query); ``model=clc-spectral:2`` asks for
another registered version (one with no items is a 400 naming those that have some),
``model=all`` for every item.

The summary is kept in memory under the change tokens of the catalog and of the collection
(``tile_generations``, tiler.token_cache), read from the tile store's Redis once per request:
every registration marks its collection's token after refreshing the summary (so does
``retire``, and the STAC API's item writes; its collection writes mark the catalog's), so the
first product of a new model version is on the very next mosaic request. The tokens are read
before the summary, as the tile store reads its own, so a summary is never kept under a token
newer than it. Where nothing tells the tokens (no tile store configured, Redis unreachable,
a writer that marks nothing, such as SQL by hand) a summary is read again after ``ttl``
seconds at most.
"""

from __future__ import annotations

import json
import re
from functools import partial
from urllib.parse import parse_qsl, urlencode

from psycopg_pool import ConnectionPool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tiler.error_bodies import invalid_parameter
from tiler.tile_store import ChangeTokens, TileStore
from tiler.token_cache import TokenCache, request_tokens

MODEL_PROPERTY = "earthsig:model"
ALL = "all"
# A collection's mosaic routes: anything under it but its items.
_MOSAIC_PATH = re.compile(r"/collections/(?P<collection>[^/]+)/(?!items(/|$))")


def _version_key(version: str) -> tuple[int, int | str]:
    return (0, int(version)) if version.isdigit() else (1, version)


def active_refs(registered: list[str], active: dict[str, str]) -> list[str]:
    """Of the ``name:version`` refs registered, the active one of each model: the version
    ``active`` names where it is registered, else the highest."""
    versions: dict[str, list[str]] = {}
    for ref in registered:
        name, _, version = ref.partition(":")
        versions.setdefault(name, []).append(version)
    chosen = []
    for name, found in sorted(versions.items()):
        wanted = active.get(name)
        version = wanted if wanted in found else max(found, key=_version_key)
        chosen.append(f"{name}:{version}")
    return chosen


def model_filter(refs: list[str]) -> str:
    """CQL2-JSON selecting items of these model refs."""
    return json.dumps({"op": "in", "args": [{"property": MODEL_PROPERTY}, refs]},
                      separators=(",", ":"))


def registered_models(pool: ConnectionPool, collection_id: str) -> list[str]:
    """The collection's ``earthsig:model`` summary ([] without one)."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT content->'summaries'->%s FROM pgstac.collections WHERE id = %s",
            (MODEL_PROPERTY, collection_id)).fetchone()
    found = row[0] if row else None
    return [str(r) for r in found] if isinstance(found, list) else []


class ModelVersionsMiddleware:
    """Select the active model versions on a collection's mosaic requests; the registered
    versions are read again when ``store``'s change tokens say the collection changed, or
    after ``ttl`` seconds."""

    def __init__(self, app: ASGIApp, active: dict[str, str], store: TileStore | None = None,
                 ttl: float = 60.0) -> None:
        self.app, self.active, self.store = app, dict(active), store
        # Refreshed with the collection's items: follows their writes.
        self._summaries: TokenCache[str, list[str]] = TokenCache(
            ttl, ChangeTokens.of_collection)

    async def _registered(self, scope: Scope, collection_id: str) -> list[str]:
        tokens = await request_tokens(self.store, scope, collection_id)
        pool: ConnectionPool = scope["app"].state.dbpool
        return await self._summaries.get_or_read_async(
            collection_id, tokens, partial(registered_models, pool, collection_id))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _MOSAIC_PATH.search(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = dict(query)
        if "filter" in given or given.get("model") == ALL:
            await self.app(scope, receive, send)
            return
        collection = match["collection"]
        registered = await self._registered(scope, collection)
        if not registered:  # a collection without models (or unknown): nothing to choose
            await self.app(scope, receive, send)
            return
        wanted = given.get("model")
        if wanted is not None and wanted not in registered:
            body = invalid_parameter(
                "model", f"names no model version with items in collection {collection!r}",
                wanted, f"one of {', '.join(registered)}, or {ALL}")
            await JSONResponse(body, status_code=400)(scope, receive, send)
            return
        refs = [wanted] if wanted else active_refs(registered, self.active)
        extra = [("filter", model_filter(refs)), ("filter-lang", "cql2-json")]
        scope = {**scope, "query_string": urlencode(query + extra).encode("latin-1")}
        await self.app(scope, receive, send)
