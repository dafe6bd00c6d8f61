"""Upstream's pgstac client with our search front door and tiler links.

Each search entry point (GET and POST ``/search``, ``/collections/{id}/items``) does the same
three things before handing over to stac-fastapi-pgstac unchanged:

1. folds ``categories`` / ``min_fraction`` into the CQL2 filter (:mod:`stac_api.categories`);
2. fixes the CQL2 spellings pgstac misreads (:mod:`stac_api.filters`);
3. checks sort fields against the queryables, since pgstac sorts by anything, silently.

and turns pgstac's refusals of a search into 400s (:mod:`stac_api.errors`). Landing page and
collections gain links to the tiler (:mod:`stac_api.links`).
"""

from __future__ import annotations

from typing import Any, cast

import attr
import orjson
from fastapi import Request
from stac_fastapi.pgstac.core import CoreCrudClient
from stac_fastapi.types.stac import Collection, Collections, ItemCollection, LandingPage

from stac_api import categories, filters, links
from stac_api.errors import InvalidSortField, search_errors_as_400

# Sortable without a queryable row: columns of pgstac's items table.
SORTABLE_COLUMNS = {"id", "collection", "datetime", "start_datetime", "end_datetime"}
PROPERTIES_PREFIX = "properties."


def _bare(field: str) -> str:
    return field.strip().lstrip("+-").removeprefix(PROPERTIES_PREFIX)


@attr.s
class EarthsigClient(CoreCrudClient):
    """CoreCrudClient plus category search, sort checks and tiler links."""

    tiler: links.TilerLinks | None = attr.ib(default=None)

    # -- search ----------------------------------------------------------------------------

    async def _check_sort(
        self, request: Request, fields: list[str], collections: list[str] | None
    ) -> None:
        if not fields:
            return
        async with request.app.state.get_connection(request, "r") as conn:
            queryables = await conn.fetchval(
                "SELECT get_queryables($1::text[])", collections or None
            )
        if queryables is None:  # unknown collection: upstream answers 404 or an empty page
            return
        known = SORTABLE_COLUMNS | set(queryables.get("properties", {}))
        unknown = [f for f in fields if _bare(f) not in known]
        if unknown:
            raise InvalidSortField(
                f"Cannot sort by {', '.join(unknown)}: only queryables sort (listed at "
                "/queryables) and id, collection, datetime, start_datetime, end_datetime."
            )

    @staticmethod
    def _get_filter(kwargs: dict[str, Any]) -> None:
        """Rewrite a GET request's filter arguments in place, as CQL2-JSON text."""
        wanted = categories.category_filter(
            kwargs.pop("categories", None), kwargs.pop("min_fraction", None)
        )
        given = kwargs.get("filter_expr")
        parsed = filters.parse(given, kwargs.get("filter_lang")) if given else None
        combined = filters.combine(parsed, wanted)
        if combined is not None:
            kwargs["filter_expr"] = orjson.dumps(filters.normalise(combined)).decode()
            kwargs["filter_lang"] = "cql2-json"

    async def get_search(self, request: Request, **kwargs: Any) -> ItemCollection:
        self._get_filter(kwargs)
        await self._check_sort(request, kwargs.get("sortby") or [], kwargs.get("collections"))
        with search_errors_as_400():
            return await super().get_search(request, **kwargs)

    async def item_collection(
        self, collection_id: str, request: Request, **kwargs: Any
    ) -> ItemCollection:
        self._get_filter(kwargs)
        await self._check_sort(request, kwargs.get("sortby") or [], [collection_id])
        with search_errors_as_400():
            return await super().item_collection(collection_id, request, **kwargs)

    async def post_search(self, search_request: Any, request: Request, **kwargs: Any) -> Any:
        wanted = categories.category_filter(
            getattr(search_request, "categories", None),
            getattr(search_request, "min_fraction", None),
        )
        given = getattr(search_request, "filter_expr", None)
        parsed = filters.parse(given, "cql2-json") if given else None
        combined = filters.combine(parsed, wanted)
        update: dict[str, Any] = {}
        if combined is not None:
            update = {"filter_expr": filters.normalise(combined), "filter_lang": "cql2-json"}
        if hasattr(search_request, "categories"):  # not pgstac's business
            update |= {"categories": None, "min_fraction": None}
        search_request = search_request.model_copy(update=update)
        sortby = [s.field for s in getattr(search_request, "sortby", None) or []]
        await self._check_sort(request, sortby, search_request.collections)
        with search_errors_as_400():
            return await super().post_search(search_request, request, **kwargs)

    # -- links -----------------------------------------------------------------------------

    async def landing_page(self, **kwargs: Any) -> LandingPage:
        landing = await super().landing_page(**kwargs)
        if self.tiler is not None:
            landing["links"].extend(self.tiler.landing_links())
        return landing

    async def get_collection(
        self, collection_id: str, request: Request, **kwargs: Any
    ) -> Collection:
        collection = await super().get_collection(collection_id, request, **kwargs)
        if self.tiler is not None:
            self.tiler.add_to_collection(cast(dict, collection))
        return collection

    async def all_collections(self, request: Request, **kwargs: Any) -> Collections:
        found = await super().all_collections(request, **kwargs)
        if self.tiler is not None:
            # Upstream answers a plain dict or, with the fields extension, a JSONResponse.
            body = found if isinstance(found, dict) else None
            for collection in (body or {}).get("collections", []):
                self.tiler.add_to_collection(cast(dict, collection))
        return found
