"""Errors of the STAC API and their one JSON shape: ``{"code", "description"}``.

stac-fastapi answers its own errors (``NotFoundError`` -> 404, ``InvalidQueryParameter`` -> 400)
as ``{code, description}``, the STAC API exception schema, but FastAPI's request validation
and ``HTTPException`` as ``{"detail": ...}``; :func:`add_error_handlers` gives those the same
shape. Our search errors subclass ``InvalidQueryParameter`` so upstream's map answers them 400.

pgstac refuses searches it cannot evaluate with a PL/pgSQL ``RAISE`` (unsupported operator,
malformed arguments) or a data error (``'abc'`` read as a number): the request is at fault, not
the server, so :func:`search_errors_as_400` turns both into 400s around search calls only, as
well as PostgreSQL's refusal of a free-text ``q`` it cannot parse as a text-search query.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

import orjson
from asyncpg import exceptions as pg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from stac_fastapi.api.models import JSONResponse
from stac_fastapi.types.errors import InvalidQueryParameter
from starlette.exceptions import HTTPException

logger = logging.getLogger(__name__)


class InvalidSortField(InvalidQueryParameter):
    """A sort field that is not a queryable."""


class UnknownFilterProperty(InvalidQueryParameter):
    """A filter naming a property that is not a queryable of the searched collections."""


class InvalidSearch(InvalidQueryParameter):
    """A search pgstac refused to evaluate."""


class WritesWithoutKeysError(ValueError):
    """Transactions asked for, but no API key to protect them."""


@contextmanager
def search_errors_as_400() -> Iterator[None]:
    """Translate pgstac's refusals of a search (and unparsable JSON parameters) into 400s."""
    try:
        yield
    except (pg.RaiseError, pg.DataError, pg.UndefinedFunctionError) as e:
        raise InvalidSearch(f"pgstac cannot evaluate this search: {e}") from e
    except orjson.JSONDecodeError as e:  # GET `intersects` and `query` are JSON in a string
        raise InvalidSearch(f"A JSON parameter (intersects, query) is not valid JSON: {e}") from e
    except pg.PostgresSyntaxError as e:
        # pgstac hands free text `q` to PostgreSQL's to_tsquery, which refuses a lone quote or
        # a trailing `--`; any other syntax error is pgstac's own and stays a 500.
        if "tsquery" not in str(e):
            raise
        raise InvalidSearch(
            f"The free-text query q cannot be read: {e}; use words, quoted phrases, OR, "
            "and - before a word to exclude it"
        ) from e


def _code(status: int) -> str:
    return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")


def _describe(error: dict) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
    return f"{where}: {error.get('msg')} (got {error.get('input')!r})"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"code": _code(exc.status_code), "description": str(exc.detail)},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    description = "; ".join(_describe(e) for e in exc.errors())
    logger.info("invalid request %s: %s", request.url.path, description)
    return JSONResponse({"code": "InvalidParameter", "description": description},
                        status_code=400)


async def _unstorable_text(request: Request, exc: Exception) -> JSONResponse:
    # PostgreSQL text cannot hold a NUL character: an id, path or property with one (%00) is
    # refused by the database whatever the route, before any row is read or written.
    return JSONResponse(
        {"code": "InvalidParameter",
         "description": f"The request carries text PostgreSQL cannot store: {exc}"},
        status_code=400,
    )


async def _check_violation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, pg.CheckViolationError)
    # pgstac keeps items in one partition per collection: an item written under a collection
    # that does not exist finds none. The request names a missing collection; not a 500.
    if "no partition of relation" in str(exc):
        detail = getattr(exc, "detail", None) or ""
        return JSONResponse({"code": "NotFoundError",
                             "description": f"No such collection for this item ({detail})"},
                            status_code=404)
    raise exc


def add_error_handlers(app: FastAPI) -> None:
    """Every error answered as ``{code, description}``; validation errors as 400 (STAC API)."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # text columns refuse NUL as CharacterNotInRepertoire, jsonb refuses \u0000 as Untranslatable.
    app.add_exception_handler(pg.CharacterNotInRepertoireError, _unstorable_text)
    app.add_exception_handler(pg.UntranslatableCharacterError, _unstorable_text)
    app.add_exception_handler(pg.CheckViolationError, _check_violation)
