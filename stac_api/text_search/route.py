"""Text search run: ``GET /search/text`` on the API (its own POST search underneath) and the
same query straight from pgstac for ``earthsig search``; the sentence is read by
:func:`stac_api.text_search.query.interpret`."""

from __future__ import annotations

from typing import Annotated, Any, cast

import psycopg
from fastapi import Query, Request
from psycopg.types.json import Jsonb
from pydantic import ValidationError
from stac_fastapi.api.app import StacApi
from stac_fastapi.types.core import AsyncBaseCoreClient
from stac_fastapi.types.search import BaseSearchPostRequest

from stac_api import categories, filters
from stac_api.text_search.query import (
    DEFAULT_RADIUS_KM,
    MAX_QUERY_CHARS,
    Q_HELP,
    InvalidTextQuery,
    TextQuery,
    interpret,
)

PGSTAC_OPTIONS = "-c search_path=pgstac,public"  # pgstac's functions need it

def add_text_search_route(api: StacApi, prefix: str = "") -> None:
    """``GET /search/text?q=...``: the items the text stands for, and how it was understood.

    The search itself is the API's own POST search (category search, CQL2 checks, paging):
    the answer is its FeatureCollection with a ``query`` member added.
    """
    # The POST search model and the async client stac-fastapi-pgstac builds the API with.
    model = cast(type[BaseSearchPostRequest], api.search_post_request_model)
    client = cast(AsyncBaseCoreClient, api.client)

    @api.app.get(f"{prefix}/search/text", tags=["Item Search"],
                 summary="Search items by a sentence: classes, place and dates in words")
    async def text_search(
        request: Request,
        q: Annotated[str, Query(description=Q_HELP, max_length=MAX_QUERY_CHARS)],
        collections: Annotated[str | None, Query(description="Comma-separated ids.")] = None,
        limit: Annotated[int, Query(ge=1, le=10000)] = 10,
        min_fraction: Annotated[float | None, Query(gt=0, le=1, description=(
            "One named class must cover at least this share of an item's valid pixels."))] = None,
        radius_km: Annotated[float, Query(gt=0, le=500, description=(
            "Half the side of the box searched around a city."))] = DEFAULT_RADIUS_KM,
        token: Annotated[str | None, Query(description="Paging token (next link).")] = None,
    ) -> Any:
        query = interpret(q, radius_km)
        ids = [c.strip() for c in collections.split(",") if c.strip()] if collections else None
        body = query.search_body(ids, limit, min_fraction)
        if token:
            body["token"] = token
        try:
            search = model.model_validate(body)
        except ValidationError as exc:  # e.g. a date range pgstac's model refuses
            raise InvalidTextQuery(f"the search {body} is not valid: {exc}") from exc
        found = await client.post_search(search, request=request)
        return {**found, "query": query.as_dict()}


def pgstac_search_body(query: TextQuery, collections: list[str] | None = None, limit: int = 10,
                       min_fraction: float | None = None) -> dict[str, Any]:
    """The body for pgstac's ``search()``: categories folded into CQL2 as the API does it."""
    body = query.search_body(collections, limit, min_fraction)
    wanted = categories.category_filter(body.pop("categories", None),
                                        body.pop("min_fraction", None))
    combined = filters.combine(body.pop("filter", None), wanted)
    body.pop("filter-lang", None)
    if combined is not None:
        body["filter"] = filters.normalise(combined)
        body["filter-lang"] = "cql2-json"
    return body


def search_catalog(dsn: str, query: TextQuery, collections: list[str] | None = None,
                   limit: int = 10, min_fraction: float | None = None) -> dict[str, Any]:
    """One page of the items ``query`` stands for, from pgstac at ``dsn``, and the query."""
    found = pgstac_search(dsn, pgstac_search_body(query, collections, limit, min_fraction))
    found["query"] = query.as_dict()
    return found


def pgstac_search(dsn: str, body: dict[str, Any]) -> dict[str, Any]:
    """One page of pgstac's ``search()`` for ``body`` (hydrated items), at ``dsn`` (empty: the
    libpq PG* variables)."""
    # pgstac's functions resolve their tables through the search path.
    with psycopg.connect(dsn or "", autocommit=True, options=PGSTAC_OPTIONS) as conn:
        row = conn.execute("SELECT pgstac.search(%s::jsonb)", (Jsonb(body),)).fetchone()
    return dict(row[0]) if row else {"features": []}
