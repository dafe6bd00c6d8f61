"""Settings of the local stack manager (env prefix ``EARTHSIG_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StackSettings(BaseSettings):
    """Where the local stack keeps its state and which external services it should use."""

    model_config = SettingsConfigDict(env_prefix="EARTHSIG_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=Path(".earthsig"),
        description="Folder for all local state: database cluster, Redis, logs, assets.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("EARTHSIG_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL to use instead of a project-owned cluster (libpq PG* also work).",
    )
    redis_url: str | None = Field(
        default=None, description="Redis to use instead of a project-owned redis-server."
    )
    pg_bindir: Path = Field(
        default=Path("/usr/lib/postgresql/15/bin"),
        description="Debian PostgreSQL 15 binaries for the project-owned cluster.",
    )
    apt_install: bool = Field(
        default=True,
        description="Install missing Debian packages (PostGIS, redis-server; podman, runc and "
        "debootstrap for the images) with apt-get.",
    )
    bind_host: str = Field(default="127.0.0.1", description="Address the owned services bind.")
