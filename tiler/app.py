"""The tiler app factory (``uvicorn --factory tiler.app:create_app``) and ``serve()``."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from titiler.core.errors import add_exception_handlers
from titiler.core.factory import BaseFactory, ColorMapFactory, TMSFactory
from titiler.core.middleware import CacheControlMiddleware
from titiler.pgstac.db import close_db_connection, connect_to_db
from titiler.pgstac.factory import add_search_list_route, add_search_register_route
from titiler.pgstac.settings import PostgresSettings

from catalog_schemas.slow_headers import HeaderTimeoutProtocol
from tiler import factories
from tiler.asset_files import add_asset_routes
from tiler.backend import backend_params
from tiler.client_faults import add_client_fault_handlers
from tiler.client_limits import add_client_limits, limit_settings, statement_options
from tiler.colormaps import colormap_params, colormaps
from tiler.error_bodies import ErrorBodyMiddleware
from tiler.errors import status_codes
from tiler.health import add_health_route
from tiler.identify import add_identify_routes
from tiler.items import ItemCache, item_dependency
from tiler.legend import add_legend_routes
from tiler.limits import SizeLimitMiddleware, SizeLimits
from tiler.model_versions import ModelVersionsMiddleware
from tiler.paths import AssetRoots
from tiler.pyramid_tiles import PyramidTilesMiddleware
from tiler.readers import reader_params
from tiler.renders import RenderDefaultsMiddleware
from tiler.search_registrations import SearchUseMiddleware, registration_params
from tiler.settings import DatabaseSettings, TilerSettings
from tiler.tile_cache import TileCacheMiddleware
from tiler.tile_store import TileStore
from tiler.timeseries_routes import add_timeseries_routes
from tiler.vector_routes import add_vector_routes
from tiler.web import add_web_map

# Responses that must never be cached by a proxy: they change with the database.
_NO_CACHE_PATHS = {r"/healthz", r"/searches(/)?$", r"/searches/list$", r"/searches/register$"}


def _lifespan(
    postgres_settings: PostgresSettings, store: TileStore | None, pool_kwargs: dict[str, str]
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await connect_to_db(app, settings=postgres_settings, pool_kwargs=pool_kwargs)
        # Everything loaded so far (modules, OpenAPI models, colormaps, TMSs) lives as long as
        # the process: out of the collector's sight, a full collection no longer walks it and
        # stops the event loop for ~70 ms (tile p99 80 -> 10 ms, docs/benchmarks.md).
        gc.freeze()
        try:
            yield
        finally:
            await close_db_connection(app)
            if store is not None:
                await store.close()

    return lifespan


def _mount(app: FastAPI, factory: BaseFactory, tag: str) -> None:
    # The factory builds URLs (tilejson "tiles") from its router_prefix: mount it there.
    app.include_router(factory.router, prefix=factory.router_prefix, tags=[tag])


def _add_tilers(
    app: FastAPI, settings: TilerSettings, roots: AssetRoots, item_params: Callable[..., Any]
) -> None:
    cmaps = colormaps()
    colormap = colormap_params(cmaps)
    readers = reader_params(roots)
    backends = backend_params(settings.mosaic_minzoom, settings.mosaic_maxzoom,
                              settings.asset_store)

    _mount(app, factories.cog_factory(colormap, roots), "Cloud Optimized GeoTIFF")
    searches = factories.search_factory(colormap, readers, backends)
    _mount(app, searches, "STAC Search")
    add_search_list_route(app, prefix="/searches", tags=["STAC Search"])
    add_search_register_route(
        app,
        prefix="/searches",
        search_dependency=registration_params(
            limit_settings(settings), settings.max_searches, settings.search_keep_days),
        tile_dependencies=factories.search_tile_dependencies(searches),
        tags=["STAC Search"],
    )
    _mount(app, factories.collection_factory(colormap, readers, backends), "STAC Collection")
    _mount(app, factories.item_factory(colormap, readers, item_params), "STAC Item")
    # Tile(set) responses link to /tileMatrixSets/{id}; raw colormaps are at /colorMaps/{name}.
    app.include_router(TMSFactory().router, tags=["Tiling Schemes"])
    app.include_router(ColorMapFactory(supported_colormaps=cmaps).router, tags=["ColorMaps"])


def create_app(
    settings: TilerSettings | None = None, postgres_settings: PostgresSettings | None = None
) -> FastAPI:
    """Build the tiler; settings default to the environment (``EARTHSIG_TILER_*``, ``PG*``)."""
    settings = settings if settings is not None else TilerSettings()
    postgres_settings = postgres_settings if postgres_settings is not None else DatabaseSettings()
    store = (TileStore(settings.tile_store_url, settings.tile_store_ttl,
                       settings.tile_store_mb * 2**20) if settings.tile_store_url else None)

    app = FastAPI(
        title="EarthSignature tiler",
        description="XYZ tiles of CORINE land-cover COGs catalogued in pgstac.",
        openapi_url="/api",
        docs_url="/api.html",
        root_path=settings.root_path,
        lifespan=_lifespan(postgres_settings, store, statement_options(settings)),
    )
    roots = AssetRoots(settings.allowed_asset_roots)
    # The in-process caches of the catalog follow the store's change tokens.
    item_params = item_dependency(ItemCache(settings.item_cache_ttl), store)
    _add_tilers(app, settings, roots, item_params)
    add_identify_routes(app, roots, item_params)
    add_timeseries_routes(app, roots)  # /timeseries/point, /timeseries/area
    add_vector_routes(app, roots, item_params)  # polygons as GeoJSON and vector tiles
    # /assets/{path}, /models/{path}: the store and the model documents over HTTP
    add_asset_routes(app, settings.asset_store, settings.model_repository.resolve())
    add_legend_routes(app, settings.legend_cache_ttl, store)
    add_web_map(app, settings.web_modules, settings.basemap_url)
    add_health_route(app, settings.healthz_timeout)
    codes = status_codes()
    add_exception_handlers(app, codes)
    add_client_fault_handlers(app, codes)

    # Only successes are cacheable: a 404 before an item is ingested must not stick for an hour.
    app.add_middleware(
        CacheControlMiddleware,
        cachecontrol=settings.cachecontrol,
        cachecontrol_max_http_code=400,
        exclude_path=_NO_CACHE_PATHS,
    )
    # A repeated tile costs a dictionary lookup (or one Redis round trip). Inside the render
    # defaults, so that a URL naming no layer and one naming the default render are one tile.
    app.add_middleware(TileCacheMiddleware, ttl=settings.tile_cache_ttl,
                       max_bytes=settings.tile_cache_mb * 2**20, store=store)
    # A collection's default render for requests that name no layer (QGIS, the web map).
    app.add_middleware(RenderDefaultsMiddleware, store=store)
    # One model version per map (the active one of each model), before the tile cache too.
    # Read under the store's change tokens: a new model version's first product shows at once.
    app.add_middleware(ModelVersionsMiddleware, active=settings.active_versions, store=store)
    # Zooms 0-7 of a collection's default map from the pipeline's pyramid, before anything
    # else: the model filter or the render defaults would make them look like other maps.
    app.add_middleware(PyramidTilesMiddleware, store=settings.asset_store)
    # Outside the render defaults: an over-sized request is refused before any database call.
    app.add_middleware(
        SizeLimitMiddleware,
        limits=SizeLimits(tile=settings.max_tile_size, image=settings.max_image_size),
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
        )
    # A map's use of a registered search keeps it from being forgotten.
    app.add_middleware(SearchUseMiddleware)
    # Every 4xx, from a handler or a middleware, gets {code, description}.
    app.add_middleware(ErrorBodyMiddleware)
    # Outermost: bodies, clients that leave and per-client budgets, before any work.
    add_client_limits(app, settings)
    return app


def serve(settings: TilerSettings | None = None) -> None:
    """Run the tiler with uvicorn on the settings' host and port (blocks)."""
    settings = settings if settings is not None else TilerSettings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level,
        http=HeaderTimeoutProtocol,
    )
