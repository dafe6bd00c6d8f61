"""Serve the STAC API with uvicorn, on loopback by default (``python -m stac_api``)."""

from __future__ import annotations

import uvicorn

from catalog_schemas.slow_headers import HeaderTimeoutProtocol
from stac_api.app import create_app
from stac_api.settings import PostgresSettings, ServeSettings, Settings


def serve(
    serve_settings: ServeSettings | None = None,
    settings: Settings | None = None,
    postgres_settings: PostgresSettings | None = None,
) -> None:
    """Run the API in this process until interrupted; every argument defaults to the env."""
    serve_settings = serve_settings or ServeSettings()
    settings = settings or Settings()
    uvicorn.run(
        create_app(settings, postgres_settings),
        host=serve_settings.host,
        port=serve_settings.port,
        log_level=serve_settings.log_level,
        root_path=settings.uvicorn_root_path,
        http=HeaderTimeoutProtocol,
    )
