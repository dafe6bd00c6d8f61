"""What one client may ask of the API: the shared guards (catalog_schemas) wired in.

- request bodies: size and arrival time, and handlers of clients that left cancelled
  (:class:`catalog_schemas.client_guards.ClientGuardMiddleware`);
- per-client budgets of reads, searches and writes (:mod:`catalog_schemas.rate_limits`),
  asked before a body is read;
- searches: ids, collections, ``limit``, geometry and CQL2 size
  (:func:`catalog_schemas.request_limits.search_problem`): a POST body in the middleware,
  parsed once; GET parameters in a route dependency; both before stac-pydantic parses the
  geometry;
- the database: a statement timeout on the read pool, a 503 naming it when hit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from typing import Any

from asyncpg import exceptions as pg
from fastapi import Depends, FastAPI, Request
from stac_fastapi.api.routes import Scope
from stac_fastapi.pgstac.config import PostgresSettings

from catalog_schemas.client_limit_wiring import wire_client_limits
from catalog_schemas.request_limits import (
    SearchLimits,
    SearchTooLarge,
    cap_query_limit,
    search_problem,
)
from stac_api.auth import WRITE_METHODS
from stac_api.settings import API_PREFIX, LimitSettings

_ITEMS = re.compile(r"/collections/[^/]+/items$")
_FREE = ("/_mgmt/ping", "/_mgmt/health")


def budget_class(prefix: str) -> Callable[[str, str], str | None]:
    """(method, path) -> the budget a request spends: ``read``, ``search`` or ``write``."""

    def classify(method: str, path: str) -> str | None:
        path = path.removeprefix(prefix) or "/"
        if path in _FREE:
            return None
        if path in ("/search", "/search/text") or _ITEMS.search(path) and method == "GET":
            return "search"
        return "write" if method in WRITE_METHODS else "read"

    return classify


def search_limit_guard(settings: LimitSettings) -> Callable:
    """A route dependency refusing a GET search whose parameters ask too much (a POST body
    is checked by the middleware, before it is read by anything else)."""
    limits = settings.search_limits()
    named = settings.limit_settings(API_PREFIX)

    async def refuse_oversized_searches(request: Request) -> None:
        problem = search_problem(dict(request.query_params), limits, named)
        if problem:
            raise SearchTooLarge(problem)

    return refuse_oversized_searches


def guard_searches(add_route_dependencies: Callable[[list[Scope], list], None],
                   settings: LimitSettings, prefix: str = "") -> None:
    guard = Depends(search_limit_guard(settings))
    add_route_dependencies([{"path": f"{prefix}/search", "method": "GET"},
                            {"path": f"{prefix}/collections/{{collection_id}}/items",
                             "method": "GET"}], [guard])


def query_limit_cap(prefix: str, limits: SearchLimits
                    ) -> Callable[[MutableMapping[str, Any]], None]:
    """Lowers a GET search's ``limit`` past the maximum to it (stated in a ``Warning``)."""

    def cap(scope: MutableMapping[str, Any]) -> None:
        path = scope.get("path", "").removeprefix(prefix) or "/"
        if path == "/search" or _ITEMS.search(path):
            cap_query_limit(scope, limits)

    return cap


def is_search_body(prefix: str) -> Callable[[str, str], bool]:
    """(method, path) -> whether its body is a search (``POST /search``)."""
    return lambda method, path: method == "POST" and path.removeprefix(prefix) == "/search"


def with_statement_timeout(postgres: PostgresSettings | None,
                           settings: LimitSettings) -> PostgresSettings | None:
    """The read pool's settings with PostgreSQL's ``statement_timeout`` (None: upstream's
    environment, read when the app starts)."""
    if not settings.statement_timeout_s:
        return postgres
    postgres = postgres or PostgresSettings()  # from the environment
    server = postgres.server_settings.model_copy(
        update={"statement_timeout": str(int(settings.statement_timeout_s * 1000))})
    return postgres.model_copy(update={"server_settings": server})


def add_client_limits(app: FastAPI, settings: LimitSettings, keys: frozenset[str],
                      key_header: str, prefix: str = "") -> None:
    """The guard middleware (sizes, budgets, search bodies, departed clients) and the
    refusals' handlers."""
    wire_client_limits(
        app, settings, prefix=API_PREFIX,
        budgets={"read": settings.rate_read, "search": settings.rate_search,
                 "write": settings.rate_write},
        classify=budget_class(prefix), keys=keys, key_header=key_header,
        limit_settings=settings.limit_settings(API_PREFIX), is_search_body=is_search_body(prefix),
        statement_cancelled=pg.QueryCanceledError,
        statement_advice="narrow the search (collections, bbox, datetime, a simpler filter) "
                         "and try again.",
        cap_query=query_limit_cap(prefix, settings.search_limits()))
