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
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus

import orjson
from asyncpg import exceptions as pg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from stac_fastapi.api.models import JSONResponse
from stac_fastapi.types.errors import InvalidQueryParameter
from starlette.exceptions import HTTPException

from stac_api import error_messages as messages
from stac_api.categories import UnknownCategory
from stac_api.error_messages import Problem
from stac_api.filters import InvalidFilter
from stac_api.text_search.query import InvalidTextQuery

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


def _raised_in(exc: BaseException, path_suffix: str, function: str | None = None) -> bool:
    """Whether a frame of the exception's traceback is upstream's ``function`` in that file."""
    return any(frame.filename.endswith(path_suffix) and function in (None, frame.name)
               for frame in traceback.extract_tb(exc.__traceback__))


def _upstream_problems(request: Request, exc: HTTPException) -> list[Problem] | None:
    """The parameter problems behind one of upstream's 400s, or ``None`` for another 400.

    stac-fastapi parses GET parameters in converters that raise bare ``HTTPException`` s
    (datetime, bbox) and re-raises the GET search model's ``ValidationError`` as its text:
    neither names the parameter, so each is recognised by where it was raised.
    """
    query = request.query_params
    cause = exc.__cause__
    if isinstance(cause, ValidationError):  # "Invalid parameters provided 1 validation error.."
        values = {k: query.get(k) for k in query} if request.method == "GET" else None
        return messages.from_pydantic(cause.errors(), values)
    if _raised_in(exc, "stac_fastapi/types/rfc3339.py"):
        return [messages.diagnosed("datetime", query.get("datetime"), str(exc.detail))]
    if _raised_in(exc, "stac_fastapi/types/search.py", "str2bbox"):
        return [messages.diagnosed("bbox", query.get("bbox"), str(exc.detail))]
    return None


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    problems = _upstream_problems(request, exc) if exc.status_code == 400 else None
    if problems:
        description = messages.describe(problems, request.method)
        logger.info("invalid request %s: %s", request.url.path, description)
        return JSONResponse({"code": "InvalidParameter", "description": description},
                            status_code=400, headers=exc.headers)
    return JSONResponse(
        {"code": _code(exc.status_code), "description": str(exc.detail)},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    description = messages.describe(messages.from_pydantic(exc.errors()), request.method)
    logger.info("invalid request %s: %s", request.url.path, description)
    return JSONResponse({"code": "InvalidParameter", "description": description},
                        status_code=400)


def _named(parameter: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """Our own refusals of one parameter, answered with its name first (upstream's handler
    of ``InvalidQueryParameter`` gives the message alone)."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        said = str(exc)
        description = said if said.startswith(f"{parameter}:") else f"{parameter}: {said}"
        return JSONResponse({"code": type(exc).__name__, "description": description},
                            status_code=400)

    return handle


async def _invalid_filter(request: Request, exc: Exception) -> JSONResponse:
    said = str(exc)
    lang = next((lang for lang in ("cql2-text", "cql2-json") if lang in said), "cql2")
    said = said.split(" filter: ", 1)[-1] if said.startswith("Invalid ") else said
    problem = Problem("filter", messages.filter_reason(said, lang),
                      request.query_params.get("filter"))
    return JSONResponse({"code": type(exc).__name__,
                         "description": problem.describe(request.method)}, status_code=400)


async def _invalid_search(request: Request, exc: Exception) -> JSONResponse:
    """pgstac's and orjson's refusals, with the parameter named where the request tells it."""
    said, query = str(exc), request.query_params
    problem: Problem | None = None
    if isinstance(exc.__cause__, orjson.JSONDecodeError):
        for name in ("intersects", "query"):
            try:
                orjson.loads(query.get(name) or "null")
            except orjson.JSONDecodeError as bad:
                problem = Problem(name, f"is not valid JSON ({bad})", query.get(name))
                break
    elif "Invalid paging token" in said:
        problem = Problem("token", "is not a token this API gave", query.get("token"))
    description = problem.describe(request.method) if problem else said
    return JSONResponse({"code": type(exc).__name__, "description": description},
                        status_code=400)


async def _text_query(request: Request, exc: Exception) -> JSONResponse:
    # The text route validates the search a sentence stands for with upstream's model: its
    # ValidationError (a date range it refuses) is told as the parameters it concerns.
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        found = messages.describe(messages.from_pydantic(cause.errors()), "GET")
        description = f"q: the search it stands for is not valid: {found}"
    else:
        description = f"q: {exc}"
    return JSONResponse({"code": type(exc).__name__, "description": description},
                        status_code=400)


async def _empty_field_name(request: Request, exc: Exception) -> JSONResponse:
    # stac-fastapi-pgstac reads `fields` item by item as field[0]: an empty one (",a", "a,,b")
    # is an IndexError there, a 500 though the request is at fault.
    if not _raised_in(exc, "stac_fastapi/pgstac/core.py", "clean_search_args"):
        raise exc
    problem = Problem("fields", "has an empty name (two commas in a row, or one at an end)",
                      request.query_params.get("fields"))
    return JSONResponse({"code": "InvalidParameter",
                         "description": problem.describe(request.method)}, status_code=400)


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
    app.add_exception_handler(IndexError, _empty_field_name)
    # More specific than upstream's InvalidQueryParameter handler, so these win.
    app.add_exception_handler(InvalidSortField, _named("sortby"))
    app.add_exception_handler(UnknownFilterProperty, _named("filter"))
    app.add_exception_handler(UnknownCategory, _named("categories"))
    app.add_exception_handler(InvalidFilter, _invalid_filter)
    app.add_exception_handler(InvalidSearch, _invalid_search)
    app.add_exception_handler(InvalidTextQuery, _text_query)
