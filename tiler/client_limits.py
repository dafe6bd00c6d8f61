"""What one client may ask of the tiler: the shared guards (catalog_schemas) wired in.

Bodies (size, arrival time, cancelled when the client leaves) and per-client budgets as in the
STAC API; registrations bounded by :mod:`tiler.search_registrations`; the database's
statement timeout answered 503 naming it. Refusals are ``{code, description, limit, ...}``
(the error-body middleware leaves a body that already has a description as it is).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg import errors as pg

from catalog_schemas.client_guards import ClientGuardMiddleware
from catalog_schemas.rate_limits import Budgets, RateLimiter
from catalog_schemas.request_limits import (
    SearchTooLarge,
    search_body_check,
    statement_timeout_body,
)
from tiler.settings import TilerSettings

logger = logging.getLogger(__name__)

PREFIX = "EARTHSIG_TILER_"
_FREE = ("/healthz",)


def limit_settings(settings: TilerSettings) -> dict[str, str]:
    """Limit name -> the variable that sets it, named in refusals."""
    return settings.limit_settings(PREFIX) | {"registered_searches": f"{PREFIX}MAX_SEARCHES"}


def is_registration(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/searches/register")


def budget_class(method: str, path: str) -> str | None:
    """``write`` for search registrations, ``read`` for the rest (tiles above all)."""
    if path in _FREE:
        return None
    return "write" if is_registration(method, path) else "read"


def statement_options(settings: TilerSettings) -> dict[str, str]:
    """titiler-pgstac's pool options (its own default) plus the statement timeout."""
    options = "-c search_path=pgstac,public -c application_name=pgstac"
    if settings.statement_timeout_s:
        options += f" -c statement_timeout={int(settings.statement_timeout_s * 1000)}"
    return {"options": options}


def add_client_limits(app: FastAPI, settings: TilerSettings) -> None:
    """The refusals' handlers and the middlewares (call last: bodies are guarded outermost)."""

    async def too_large(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SearchTooLarge)
        logger.info("refused %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(exc.problem.body(), status_code=400)

    async def statement_timeout(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("statement timeout on %s %s", request.method, request.url.path)
        return JSONResponse(statement_timeout_body(
            settings.statement_timeout_s, f"{PREFIX}STATEMENT_TIMEOUT_S",
            "ask for a smaller area or a narrower search."), status_code=503)

    app.add_exception_handler(SearchTooLarge, too_large)
    app.add_exception_handler(pg.QueryCanceled, statement_timeout)
    rates = RateLimiter(
        classify=budget_class, storage_url=settings.rate_limit_url,
        budgets=Budgets({"read": settings.rate_read, "write": settings.rate_write},
                        key_factor=settings.rate_key_factor, keys=frozenset(settings.api_keys),
                        key_header=settings.api_key_header),
        setting=f"{PREFIX}RATE_", repeat_delay_s=settings.rate_repeat_delay_s)
    named = limit_settings(settings)
    app.add_middleware(ClientGuardMiddleware, max_body_bytes=settings.max_body_bytes,
                       body_timeout_s=settings.body_timeout_s, settings=named,
                       admit=rates.admit, check_body=search_body_check(
                           is_registration, settings.search_limits(), named))
