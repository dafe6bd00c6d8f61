"""Upstream's pgstac client with our search front door and tiler links.

Each search entry point (GET and POST ``/search``, ``/collections/{id}/items``) does the same
three things before handing over to stac-fastapi-pgstac unchanged:

1. folds ``categories`` / ``min_fraction`` into the CQL2 filter (:mod:`stac_api.categories`);
2. fixes the CQL2 spellings pgstac misreads (:mod:`stac_api.filters`);
3. checks sort fields and the filter's properties against the queryables of the searched
   collections: pgstac sorts by anything, silently, and a filter on a property it does not
   know matches nothing instead of failing.

and turns pgstac's refusals of a search into 400s (:mod:`stac_api.errors`). Landing page and
collections gain links to the tiler (:mod:`stac_api.links`).
"""

from __future__ import annotations

import time
from typing import Any, cast

import attr
import orjson
from fastapi import Request, Response
from stac_fastapi.pgstac.core import CoreCrudClient
from stac_fastapi.types.stac import Collection, Collections, ItemCollection, LandingPage

from stac_api import categories, filters, links
from stac_api.asset_urls import AssetUrls
from stac_api.errors import InvalidSortField, UnknownFilterProperty, search_errors_as_400

# Sortable without a queryable row: columns of pgstac's items table.
SORTABLE_COLUMNS = {"id", "collection", "datetime", "start_datetime", "end_datetime"}
# Filterable without a queryable row: the same, and the footprint.
FILTERABLE_COLUMNS = SORTABLE_COLUMNS | {"geometry"}
PROPERTIES_PREFIX = "properties."
JSON, GEOJSON = "application/json", "application/geo+json"
QUERYABLES_TTL_S = 30.0
QUERYABLES_CACHE_SIZE = 256  # distinct collection sets remembered


def _bare(field: str) -> str:
    return field.strip().lstrip("+-").removeprefix(PROPERTIES_PREFIX)


def _geojson(found: Any) -> Any:
    """An item search answered as GeoJSON whether or not ``fields`` was given.

    With ``fields`` upstream skips its models and answers a plain ``JSONResponse``
    (``application/json``); the same FeatureCollection is ``application/geo+json`` otherwise,
    as the route documents.
    """
    if isinstance(found, Response) and found.media_type == JSON:
        found.headers["content-type"] = GEOJSON
        found.media_type = GEOJSON
    return found


@attr.s
class EarthsigClient(CoreCrudClient):
    """CoreCrudClient plus category search, sort checks and tiler links."""

    tiler: links.TilerLinks | None = attr.ib(default=None)
    # The asset store's paths answered as public URLs (None: hrefs as registered).
    asset_urls: AssetUrls | None = attr.ib(default=None)
    # pgstac's get_queryables() costs 10-15 ms a call; a filtered search asked it every time.
    # Queryables change only when the pipeline registers a new collection definition, so an
    # answer is reused this long (0: never reused).
    queryables_ttl_s: float = attr.ib(default=QUERYABLES_TTL_S)
    _queryables: dict[tuple[str, ...] | None, tuple[float, dict[str, Any] | None]] = attr.ib(
        factory=dict, init=False)

    async def _queryables_of(
        self, request: Request, collections: list[str] | None
    ) -> dict[str, Any] | None:
        """pgstac's queryables document of ``collections`` (None: an unknown collection)."""
        key = tuple(sorted(collections)) if collections else None
        cached = self._queryables.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        async with request.app.state.get_connection(request, "r") as conn:
            found = await conn.fetchval("SELECT get_queryables($1::text[])", collections or None)
        if self.queryables_ttl_s > 0:
            if len(self._queryables) >= QUERYABLES_CACHE_SIZE:
                self._queryables.clear()
            self._queryables[key] = (now + self.queryables_ttl_s, found)
        return cast(dict[str, Any] | None, found)

    def _public(self, found: Any, request: Request | None = None) -> Any:
        """``found`` with the store's asset paths as public URLs. Upstream answers a dict or,
        with the fields extension, an already encoded JSONResponse (decoded, rewritten and
        encoded again: only then)."""
        if self.asset_urls is None:
            return found
        host = request.url.netloc if request is not None else None
        if isinstance(found, Response):
            document = orjson.loads(bytes(found.body))
            self.asset_urls.rewrite(document, host)
            headers = {k: v for k, v in found.headers.items()
                       if k.lower() not in ("content-length", "content-type")}
            return Response(orjson.dumps(document), status_code=found.status_code,
                            media_type=found.media_type, headers=headers)
        self.asset_urls.rewrite(found, host)
        return found

    # -- search ----------------------------------------------------------------------------

    def _clean_search_args(
        self,
        base_args: dict[str, Any],
        *args: Any,
        filter_query: str | None = None,
        filter_lang: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Upstream's argument clean-up, with the filter validated through our cache.

        Upstream parses and validates the filter again with cql2 on every GET (the most
        expensive step of a search); ours is already parsed and validated, cached.
        """
        if filter_query:
            if filter_lang == "cql2-text":
                base_args["filter"] = filters.parse(filter_query, filter_lang)
            else:  # kept as sent: it may carry pgstac's spellings (filters.normalise)
                base_args["filter"] = orjson.loads(filter_query)
                filters.parse(base_args["filter"], "cql2-json")
            base_args["filter_lang"] = "cql2-json"
        return super()._clean_search_args(base_args, *args, **kwargs)

    async def _check_fields(
        self,
        request: Request,
        sort_fields: list[str],
        filter_expr: dict[str, Any] | None,
        collections: list[str] | None,
    ) -> None:
        """Sort fields and filter properties must be queryables of the searched collections.

        pgstac sorts by anything, silently, and its queryables allow additional properties, so
        a filter on a misspelt or absent property would match nothing instead of failing.
        """
        named = filters.properties(filter_expr) if filter_expr else set()
        if not sort_fields and not named:
            return
        queryables = await self._queryables_of(request, collections)
        if queryables is None:  # unknown collection: upstream answers 404 or an empty page
            return
        known = set(queryables.get("properties", {}))
        where = (f"/collections/{collections[0]}/queryables" if collections
                 and len(collections) == 1 else "/queryables")
        unknown = [f for f in sort_fields if _bare(f) not in known | SORTABLE_COLUMNS]
        if unknown:
            raise InvalidSortField(
                f"Cannot sort by {', '.join(unknown)}: only queryables sort (listed at "
                f"{where}) and id, collection, datetime, start_datetime, end_datetime."
            )
        unknown = sorted(p for p in named if _bare(p) not in known | FILTERABLE_COLUMNS)
        if unknown:
            scope = f"collection {', '.join(collections)}" if collections else "any collection"
            raise UnknownFilterProperty(
                f"Cannot filter on {', '.join(unknown)}: not a queryable of {scope} (listed at "
                f"{where}); id, collection, geometry, datetime, start_datetime and "
                "end_datetime filter as well."
            )

    @staticmethod
    def _get_filter(kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """Rewrite a GET request's filter arguments in place, as CQL2-JSON text; return it."""
        wanted = categories.category_filter(
            kwargs.pop("categories", None), kwargs.pop("min_fraction", None)
        )
        given = kwargs.get("filter_expr")
        parsed = filters.parse(given, kwargs.get("filter_lang")) if given else None
        combined = filters.combine(parsed, wanted)
        if combined is None:
            return None
        normalised: dict[str, Any] = filters.normalise(combined)
        kwargs["filter_expr"] = orjson.dumps(normalised).decode()
        kwargs["filter_lang"] = "cql2-json"
        return normalised

    async def get_search(self, request: Request, **kwargs: Any) -> ItemCollection:
        expr = self._get_filter(kwargs)
        await self._check_fields(request, kwargs.get("sortby") or [], expr,
                                 kwargs.get("collections"))
        with search_errors_as_400():
            return self._public(_geojson(await super().get_search(request, **kwargs)), request)

    async def item_collection(
        self, collection_id: str, request: Request, **kwargs: Any
    ) -> ItemCollection:
        expr = self._get_filter(kwargs)
        await self._check_fields(request, kwargs.get("sortby") or [], expr, [collection_id])
        with search_errors_as_400():
            return self._public(
                _geojson(await super().item_collection(collection_id, request, **kwargs)),
                request)

    async def post_search(self, search_request: Any, request: Request, **kwargs: Any) -> Any:
        wanted = categories.category_filter(
            getattr(search_request, "categories", None),
            getattr(search_request, "min_fraction", None),
        )
        given = getattr(search_request, "filter_expr", None)
        parsed = filters.parse(given, "cql2-json") if given else None
        combined = filters.combine(parsed, wanted)
        update: dict[str, Any] = {}
        expr = filters.normalise(combined) if combined is not None else None
        if expr is not None:
            update = {"filter_expr": expr, "filter_lang": "cql2-json"}
        if hasattr(search_request, "categories"):  # not pgstac's business
            update |= {"categories": None, "min_fraction": None}
        search_request = search_request.model_copy(update=update)
        sortby = [s.field for s in getattr(search_request, "sortby", None) or []]
        await self._check_fields(request, sortby, expr, search_request.collections)
        with search_errors_as_400():
            return self._public(
                _geojson(await super().post_search(search_request, request, **kwargs)), request)

    async def get_item(self, item_id: str, collection_id: str, request: Request,
                       **kwargs: Any) -> Any:
        return self._public(await super().get_item(item_id, collection_id, request, **kwargs),
                            request)

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
        return cast(Collection, self._public(collection))

    async def all_collections(self, request: Request, **kwargs: Any) -> Collections:
        with search_errors_as_400():  # collection search takes free text `q` as well
            found = await super().all_collections(request, **kwargs)
        if self.tiler is not None:
            # Upstream answers a plain dict or, with the fields extension, a JSONResponse.
            body = found if isinstance(found, dict) else None
            for collection in (body or {}).get("collections", []):
                self.tiler.add_to_collection(cast(dict, collection))
        return cast(Collections, self._public(found))
