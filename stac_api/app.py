"""The STAC API application factory.

A thin runtime over stac-fastapi-pgstac: upstream's :func:`instantiate_api` composes
``StacApi``, the client, the extensions, middlewares (CORS from upstream's ``CORS_*``
variables) and health check; we give it our settings, extension set and client
(:class:`stac_api.client.EarthsigClient`), a lifespan that opens the pools with explicit database
settings, then add what upstream has no hook for: API keys on write routes, tiler links, one
error shape and a health check that names the PostgreSQL version.

Writes (``ENABLE_TRANSACTIONS_EXTENSIONS=true``) are refused at build time unless API keys are
configured (:class:`stac_api.settings.AuthSettings`).

Run with ``uvicorn --factory stac_api.app:create_app`` or ``python -m stac_api``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from stac_fastapi.pgstac.app import instantiate_api
from stac_fastapi.pgstac.db import close_db_connection, connect_to_db

from stac_api import write_connections
from stac_api.asset_urls import AssetUrls, S3Presigner
from stac_api.auth import api_key_guard, protect_writes
from stac_api.client import EarthsigClient
from stac_api.client_limits import add_client_limits, guard_searches, with_statement_timeout
from stac_api.errors import WritesWithoutKeysError, add_error_handlers
from stac_api.extensions import build_extensions
from stac_api.health import replace_health
from stac_api.links import TilerLinks
from stac_api.pyramid_jobs import PyramidJobs
from stac_api.search_body import require_search_objects
from stac_api.settings import (
    AssetUrlSettings,
    AuthSettings,
    LimitSettings,
    PostgresSettings,
    PyramidQueueSettings,
    SearchSettings,
    Settings,
    TilerLinkSettings,
    TileStoreSettings,
)
from stac_api.text_search.route import add_text_search_route
from stac_api.tile_invalidation import TileInvalidationMiddleware
from stac_api.writes import require_bodies

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def database_lifespan(
    postgres_settings: PostgresSettings | None = None, *, writes: bool = False,
    limits: LimitSettings | None = None,
) -> Lifespan:
    """A lifespan that holds the pgstac pools (read, and write when ``writes``) while the app runs.

    With ``postgres_settings=None`` upstream reads the ``PG*`` variables when the app starts,
    not when it is built, so building an app never needs a database. The read pool's
    statements are bounded by ``limits.statement_timeout_s``; writes (a bulk load) are not.
    Each write is one transaction that refreshes its collection's extent and models summary
    (:mod:`stac_api.write_connections`).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reads = with_statement_timeout(postgres_settings, limits) if limits else None
        await connect_to_db(
            app, get_conn=write_connections.connection,
            postgres_settings=reads or postgres_settings,
            add_write_connection_pool=writes, write_postgres_settings=postgres_settings,
        )
        # What start-up loaded lives as long as the process: out of the collector's full
        # collections (searches p95 -5 to -11 % under the load test, docs/reliability.md).
        gc.freeze()
        try:
            yield
        finally:
            await close_db_connection(app)

    return lifespan


def tiler_links(settings: TilerLinkSettings) -> TilerLinks | None:
    """The link builder for the configured tiler, or ``None`` without one."""
    if not settings.tiler_url:
        return None
    tiler = settings.tiler_url.rstrip("/")
    return TilerLinks(tiler=tiler, web_map=settings.web_map_url or f"{tiler}/map")


def asset_urls(settings: AssetUrlSettings, tiler_url: str | None) -> AssetUrls | None:
    """The store-path -> public-URL mapping, or ``None`` without a public base."""
    base = settings.public_base(tiler_url)
    presign = (S3Presigner(settings.asset_presign_expiry_s, settings.s3_endpoint_url)
               if settings.asset_presign_s3 else None)
    if not base and presign is None:
        return None
    return AssetUrls(store=settings.store, base=base, models=settings.model_repository.resolve(),
                     models_base=f"{tiler_url.rstrip('/')}/models" if tiler_url else None,
                     presign=presign)


def create_app(
    settings: Settings | None = None,
    postgres_settings: PostgresSettings | None = None,
    auth: AuthSettings | None = None,
    links: TilerLinkSettings | None = None,
    search: SearchSettings | None = None,
    tile_store: TileStoreSettings | None = None,
    pyramid: PyramidQueueSettings | None = None,
    assets: AssetUrlSettings | None = None,
    limits: LimitSettings | None = None,
) -> FastAPI:
    """Build the STAC API; every argument defaults to the environment."""
    settings = settings or Settings()
    limits = limits or LimitSettings()
    writes = settings.enable_transactions_extensions
    auth = auth or AuthSettings()
    keys = auth.api_keys()  # writes need one; any gives a client higher request budgets
    if writes and not keys:
        raise WritesWithoutKeysError(
            "ENABLE_TRANSACTIONS_EXTENSIONS is on but no API key is configured: set "
            "EARTHSIG_API_KEYS or EARTHSIG_API_KEYS_FILE, or keep writes off"
        )
    api = instantiate_api(
        client=EarthsigClient,
        extensions=build_extensions(settings),
        lifespan=database_lifespan(postgres_settings, writes=writes, limits=limits),
        settings=settings,
    )
    # StacApi copies title and description onto the client but not the landing page id, whose
    # default upstream froze from the environment when `stac_fastapi.types.core` was imported.
    api.client.landing_page_id = settings.stac_fastapi_landing_id
    # instantiate_api builds the client itself, so its collaborators are set afterwards.
    links = links or TilerLinkSettings()
    api.client.tiler = tiler_links(links)
    api.client.asset_urls = asset_urls(assets or AssetUrlSettings(), links.tiler_url)
    api.client.queryables_ttl_s = (search or SearchSettings()).queryables_cache_s
    if writes:
        # Route dependencies run in the order added: the key guard first, so a request without
        # a key is a 401 whatever its body.
        protect_writes(api.add_route_dependencies, api.app,
                       api_key_guard(keys, auth.key_header), settings.prefix_path)
        require_bodies(api.add_route_dependencies, api.app, settings.prefix_path)
        store_url = (tile_store or TileStoreSettings()).tile_store_url
        queueing = pyramid or PyramidQueueSettings()
        queue = queueing.publish_queue()
        if store_url or queue:
            api.app.add_middleware(
                TileInvalidationMiddleware, url=store_url, prefix=settings.prefix_path,
                key_header=auth.key_header,
                pyramid=PyramidJobs(queueing.redis_url, queue) if queue else None)
    require_search_objects(api.add_route_dependencies, settings.prefix_path)
    guard_searches(api.add_route_dependencies, limits, settings.prefix_path)
    add_error_handlers(api.app)
    add_client_limits(api.app, limits, keys, auth.key_header, settings.prefix_path)
    replace_health(api.app, settings.prefix_path)
    add_text_search_route(api, settings.prefix_path)  # GET /search/text (docs/search.md)
    return api.app
