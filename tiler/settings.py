"""Tiler settings: the service's own (``EARTHSIG_TILER_*``) and the database's (libpq ``PG*``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from titiler.pgstac.settings import PostgresSettings


def _split_commas(value: Any) -> Any:
    """Let list settings be given as ``a,b`` in the environment as well as JSON."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        return json.loads(value)
    return [part.strip() for part in value.split(",") if part.strip()]


class TilerSettings(BaseSettings):
    """HTTP side of the tiler service."""

    model_config = SettingsConfigDict(env_prefix="EARTHSIG_TILER_", env_file=".env", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address `serve()` binds.")
    port: int = Field(default=8082, description="Port `serve()` binds.")
    root_path: str = Field(default="", description="ASGI root path when behind a proxy.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=["*"], description="Allowed CORS origins, comma separated."
    )
    cachecontrol: str = Field(
        default="public, max-age=3600", description="Cache-Control header of tile responses."
    )
    cog_url_prefixes: Annotated[list[str], NoDecode] = Field(
        default=[],
        description=(
            "Locations `/cog?url=` may read, comma separated (e.g. `/data/cogs/,s3://bucket/`); "
            "empty lets it read anything GDAL can open."
        ),
    )
    healthz_timeout: float = Field(
        default=1.0, description="Seconds `/healthz` waits for a database connection."
    )
    log_level: str = Field(default="info", description="uvicorn log level for `serve()`.")

    @field_validator("cors_origins", "cog_url_prefixes", mode="before")
    @classmethod
    def split_lists(cls, value: Any) -> Any:
        """Accept ``a,b`` from the environment as well as a JSON list."""
        return _split_commas(value)


class DatabaseSettings(PostgresSettings):
    """titiler-pgstac's ``PG*`` / ``DATABASE_URL`` settings, password optional.

    Upstream quotes ``PGPASSWORD`` unconditionally and fails without it; with trust auth or a
    ``.pgpass`` file there is none, and libpq still finds it when the URL omits it.
    """

    pgpassword: str = ""
