"""Settings of the STAC API, split by concern like titiler-pgstac's.

- :class:`Settings` extends stac-fastapi-pgstac's own settings, so every upstream variable
  (``STAC_FASTAPI_TITLE``, ``ENABLED_EXTENSIONS``, ``CORS_ORIGINS``, ``ROOT_PATH``, ...) keeps its
  upstream name and meaning; we only change defaults and refuse writes.
- :class:`ServeSettings` is ours (prefix ``EARTHSIG_API_``): where ``python -m stac_api`` listens.
  It is a separate class because a prefix is class-wide in pydantic-settings: putting ours on
  :class:`Settings` would rename every inherited upstream variable, and aliasing single fields
  makes bare ``HOST`` / ``PORT`` leak in or makes ``Settings(host=...)`` a silent no-op.
- :class:`PostgresSettings` is upstream's: the libpq ``PGHOST``, ``PGPORT``, ``PGUSER``,
  ``PGPASSWORD``, ``PGDATABASE`` variables (all five required, the password even under trust
  auth, where any value does).

No instance is created here: callers build them (tests with ``_env_file=None``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from stac_fastapi.pgstac.config import PostgresSettings
from stac_fastapi.pgstac.config import Settings as PgstacApiSettings

__all__ = ["PostgresSettings", "ServeSettings", "Settings"]


def _package_version() -> str:
    """The installed EarthSignature version, shown as the API version on the landing page."""
    try:
        return version("earthsignature")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0"


class Settings(PgstacApiSettings):
    """Upstream's API settings with EarthSignature defaults, read-only.

    The defaults replace upstream's placeholders, which upstream logs a warning about because
    clients show them (landing page title, id, version).
    """

    stac_fastapi_title: str = "EarthSignature STAC API"
    stac_fastapi_description: str = (
        "CORINE land-cover segmentations of Sentinel-2 products over Europe, as STAC items "
        "pointing to Cloud-Optimized GeoTIFFs."
    )
    stac_fastapi_landing_id: str = "earthsignature"
    stac_fastapi_version: str = Field(default_factory=_package_version)

    @field_validator("enable_transactions_extensions")
    @classmethod
    def _read_only(cls, enabled: bool) -> bool:
        """Refuse to start with writes on: the API has no authentication yet.

        Silently ignoring ``ENABLE_TRANSACTIONS_EXTENSIONS=true`` would surprise an operator;
        honouring it would let anyone rewrite the catalog.
        """
        if enabled:
            raise ValueError(
                "the transactions extension is not available until writes are authenticated; "
                "unset ENABLE_TRANSACTIONS_EXTENSIONS"
            )
        return enabled


class ServeSettings(BaseSettings):
    """Where ``python -m stac_api`` listens: loopback unless the operator opens it up."""

    model_config = SettingsConfigDict(env_prefix="EARTHSIG_API_", env_file=".env", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address uvicorn binds.")
    port: int = Field(default=8081, ge=1, le=65535, description="Port uvicorn binds.")
    log_level: str = Field(default="info", description="uvicorn's log level.")
