"""The STAC API application factory.

A thin runtime over stac-fastapi-pgstac: upstream's :func:`instantiate_api` composes
``StacApi``, ``CoreCrudClient``, the extensions, middlewares and health check; we give it our
settings, our extension set and a lifespan that opens the read pool with explicit database
settings. Transactions are never registered (see :class:`stac_api.settings.Settings`).

Run with ``uvicorn --factory stac_api.app:create_app`` or ``python -m stac_api``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from stac_fastapi.pgstac.app import instantiate_api
from stac_fastapi.pgstac.core import CoreCrudClient
from stac_fastapi.pgstac.db import close_db_connection, connect_to_db

from stac_api.extensions import build_extensions
from stac_api.settings import PostgresSettings, Settings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def database_lifespan(postgres_settings: PostgresSettings | None = None) -> Lifespan:
    """A lifespan that holds the pgstac read pool for as long as the app runs.

    With ``postgres_settings=None`` upstream reads the ``PG*`` variables when the app starts,
    not when it is built, so building an app never needs a database.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await connect_to_db(app, postgres_settings=postgres_settings)
        try:
            yield
        finally:
            await close_db_connection(app)

    return lifespan


def create_app(
    settings: Settings | None = None,
    postgres_settings: PostgresSettings | None = None,
) -> FastAPI:
    """Build the read-only STAC API; settings default to the environment."""
    settings = settings or Settings()
    api = instantiate_api(
        client=CoreCrudClient,
        extensions=build_extensions(settings),
        lifespan=database_lifespan(postgres_settings),
        settings=settings,
    )
    # StacApi copies title and description onto the client but not the landing page id, whose
    # default upstream froze from the environment when `stac_fastapi.types.core` was imported.
    api.client.landing_page_id = settings.stac_fastapi_landing_id
    return api.app
