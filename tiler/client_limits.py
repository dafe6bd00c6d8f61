"""What one client may ask of the tiler: the shared guards (catalog_schemas) wired in.

Bodies (size, arrival time, cancelled when the client leaves) and per-client budgets as in the
STAC API; registrations bounded by :mod:`tiler.search_registrations`; the database's
statement timeout answered 503 naming it. Refusals are ``{code, description, limit, ...}``
(the error-body middleware leaves a body that already has a description as it is).
"""

from __future__ import annotations

from fastapi import FastAPI
from psycopg import errors as pg

from catalog_schemas.client_limit_wiring import wire_client_limits
from tiler.settings import TilerSettings

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
    wire_client_limits(
        app, settings, prefix=PREFIX,
        budgets={"read": settings.rate_read, "write": settings.rate_write},
        classify=budget_class, keys=frozenset(settings.api_keys),
        key_header=settings.api_key_header, limit_settings=limit_settings(settings),
        is_search_body=is_registration, statement_cancelled=pg.QueryCanceled,
        statement_advice="ask for a smaller area or a narrower search.")
