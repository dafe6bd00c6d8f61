"""The client limits wired into a FastAPI app, the same way in the STAC API and the tiler.

What each service differs in is handed in (its variables' prefix, budget classes, which body is
a search, the exception its database driver raises on a cancelled statement); the rest is here:
the refusals' handlers (an oversized search 400, a cancelled statement 503 naming the setting
that bounds it, both ``{code, description, limit, ...}``), the per-client budgets
(:mod:`catalog_schemas.rate_limits`) and the guard middleware
(:mod:`catalog_schemas.client_guards`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from catalog_schemas.client_guards import ClientGuardMiddleware, Scope
from catalog_schemas.client_limit_settings import ClientLimitSettings
from catalog_schemas.rate_limits import Budgets, Classify, RateLimiter
from catalog_schemas.request_limits import (
    SearchTooLarge,
    search_body_check,
    statement_timeout_body,
)

logger = logging.getLogger(__name__)


def wire_client_limits(app: FastAPI, settings: ClientLimitSettings, *, prefix: str,
                       budgets: Mapping[str, str], classify: Classify, keys: frozenset[str],
                       key_header: str, limit_settings: dict[str, str],
                       is_search_body: Callable[[str, str], bool],
                       statement_cancelled: type[Exception], statement_advice: str,
                       cap_query: Callable[[Scope], None] | None = None) -> None:
    """The refusals' handlers, then the guard middleware with the budgets (call it after the
    app's other middlewares: bodies are guarded outermost).

    ``prefix``: the service's variables (``EARTHSIG_API_``), named in refusals with
    ``limit_settings``; ``budgets``: class -> budget, ``classify`` choosing the class;
    ``is_search_body``: (method, path) -> whether the body is checked as a search;
    ``statement_advice``: what a client whose statement was cancelled may do instead.
    """

    async def too_large(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SearchTooLarge)
        logger.info("refused %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(exc.problem.body(), status_code=400)

    async def statement_timeout(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("statement timeout on %s %s", request.method, request.url.path)
        return JSONResponse(statement_timeout_body(
            settings.statement_timeout_s, f"{prefix}STATEMENT_TIMEOUT_S", statement_advice),
            status_code=503)

    app.add_exception_handler(SearchTooLarge, too_large)
    app.add_exception_handler(statement_cancelled, statement_timeout)
    rates = RateLimiter(
        classify=classify, storage_url=settings.rate_limit_url,
        budgets=Budgets(budgets, key_factor=settings.rate_key_factor, keys=keys,
                        key_header=key_header),
        setting=f"{prefix}RATE_", repeat_delay_s=settings.rate_repeat_delay_s)
    app.add_middleware(ClientGuardMiddleware, max_body_bytes=settings.max_body_bytes,
                       body_timeout_s=settings.body_timeout_s, settings=limit_settings,
                       admit=rates.admit, check_body=search_body_check(
                           is_search_body, settings.search_limits(), limit_settings),
                       cap_query=cap_query)
