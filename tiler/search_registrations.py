"""``POST /searches/register`` bounded: the search's size, the number kept, and their age.

titiler-pgstac writes every registration into pgstac's ``searches`` table, for anyone and
without end. Here:

- the search document is checked against the same limits as the STAC API's searches, in
  the guard middleware before any model parses it (``tiler.client_limits``), and the JSON it
  parsed is used here;
- a client's registrations spend its ``write`` budget (:mod:`catalog_schemas.rate_limits`);
- searches no map has used for ``keep_days`` are deleted at each registration, and a new one
  beyond ``max_searches`` is refused (400, naming the limit); registering a search that is
  already there always succeeds (same hash, no new row);
- a map using a search keeps it: pgstac bumps ``lastused`` only on the row of the search
  without its metadata, so :class:`SearchUseMiddleware` bumps the registered row itself, at
  most once an hour per search and process.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from psycopg_pool import ConnectionPool
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send
from titiler.pgstac import model
from titiler.pgstac.dependencies import SearchParams

from catalog_schemas.request_limits import PARSED_BODY, LimitExceeded, SearchTooLarge

logger = logging.getLogger(__name__)

TOUCH_EVERY_S = 3600.0
_SEARCH_PATH = re.compile(r"^/searches/(?P<hash>[0-9a-f]{32})/")


def make_room(pool: ConnectionPool, search: dict[str, Any], metadata: dict[str, Any],
              max_searches: int, keep_days: float, setting: str) -> None:
    """Forget searches unused for ``keep_days``; refuse a new one past ``max_searches``."""
    with pool.connection() as conn:
        gone = conn.execute("DELETE FROM searches WHERE lastused < now() - make_interval("
                            "secs => %s)", [keep_days * 86400]).rowcount
        if gone:
            logger.info("forgot %d searches unused for %g days", gone, keep_days)
        exists = conn.execute(
            "SELECT 1 FROM searches WHERE hash = search_hash(%s::jsonb, %s::jsonb)",
            [json.dumps(search), json.dumps(metadata)]).fetchone()
        if exists:
            return
        row = conn.execute("SELECT count(*) FROM searches").fetchone()
        kept = int(row[0]) if row else 0
    if kept >= max_searches:
        raise SearchTooLarge(LimitExceeded(
            "registered_searches", max_searches, kept + 1, "The tiler's registered searches",
            setting))


def registration_params(settings: dict[str, str], max_searches: int,
                        keep_days: float) -> Callable[..., Any]:
    """The ``search_dependency`` of titiler-pgstac's register route, with the limits above.

    It takes the body the guard middleware parsed and checked (rather than declaring the
    model) so that pydantic and shapely never build a 200 000-vertex polygon.
    """

    async def checked_search(request: Request) -> tuple[model.PgSTACSearch, model.Metadata]:
        if PARSED_BODY in request.scope:
            document = request.scope[PARSED_BODY]
        else:  # the guard passed a body that is not JSON: said as FastAPI would say it
            raw = await request.body()
            try:
                document = json.loads(raw)
            except ValueError as e:
                position = e.pos if isinstance(e, json.JSONDecodeError) else 0
                raise RequestValidationError([{
                    "type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error",
                    "input": {}, "ctx": {"error": str(e)}}], body=raw) from e
        try:
            body = model.RegisterMosaic.model_validate(document)
        except ValidationError as e:  # the 422 a declared body model would have given
            raise RequestValidationError(
                [{**error, "loc": ("body", *error["loc"])} for error in e.errors()],
                body=document) from e
        search, metadata = SearchParams(body)
        await run_in_threadpool(
            make_room, request.app.state.dbpool,
            search.model_dump(by_alias=True, exclude_none=True),
            metadata.model_dump(exclude_none=True), max_searches, keep_days,
            settings.get("registered_searches", ""))
        return search, metadata

    return checked_search


def touch(pool: ConnectionPool, search_hash: str) -> None:
    with pool.connection() as conn:
        conn.execute("UPDATE searches SET lastused = now() WHERE hash = %s", [search_hash])


class SearchUseMiddleware:
    """Marks a registered search as used when a map asks for its tiles (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.touched: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _SEARCH_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if found:
            now = time.monotonic()
            if now - self.touched.get(found["hash"], -TOUCH_EVERY_S) >= TOUCH_EVERY_S:
                self.touched[found["hash"]] = now
                try:
                    await run_in_threadpool(touch, scope["app"].state.dbpool, found["hash"])
                except Exception as e:  # noqa: BLE001 - the tile matters more than the stamp
                    logger.warning("could not mark search %s used: %s", found["hash"], e)
        await self.app(scope, receive, send)
