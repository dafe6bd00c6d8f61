"""Settings of the STAC API, split by concern like titiler-pgstac's.

- :class:`Settings` extends stac-fastapi-pgstac's own settings, so every upstream variable
  (``STAC_FASTAPI_TITLE``, ``ENABLED_EXTENSIONS``, ``ENABLE_TRANSACTIONS_EXTENSIONS``,
  ``CORS_ORIGINS``, ``CORS_METHODS``, ``CORS_HEADERS``, ``ROOT_PATH``, ...) keeps its upstream
  name and meaning; we only change defaults.
- :class:`ServeSettings`, :class:`AuthSettings` and :class:`TilerLinkSettings` are ours (prefix
  ``EARTHSIG_API_``): where ``python -m stac_api`` listens, the API keys that guard writes, and
  the tiler the landing page links to. They are separate classes because a prefix is class-wide
  in pydantic-settings: putting ours on :class:`Settings` would rename every inherited upstream
  variable, and aliasing single fields makes bare ``HOST`` / ``PORT`` leak in or makes
  ``Settings(host=...)`` a silent no-op.
- :class:`PostgresSettings` is upstream's: the libpq ``PGHOST``, ``PGPORT``, ``PGUSER``,
  ``PGPASSWORD``, ``PGDATABASE`` variables (all five required, the password even under trust
  auth, where any value does).

No instance is created here: callers build them (tests with ``_env_file=None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from stac_fastapi.pgstac.config import PostgresSettings
from stac_fastapi.pgstac.config import Settings as PgstacApiSettings

from catalog_schemas.client_limit_settings import ClientLimitSettings

__all__ = ["AuthSettings", "LimitSettings", "PostgresSettings", "PyramidQueueSettings",
           "SearchSettings", "ServeSettings", "Settings", "TileStoreSettings", "TilerLinkSettings"]

API_PREFIX = "EARTHSIG_API_"


def _package_version() -> str:
    """The installed EarthSignature version, shown as the API version on the landing page."""
    try:
        return version("earthsignature")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0"


class Settings(PgstacApiSettings):
    """Upstream's API settings with EarthSignature defaults; writes stay off by default.

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
    # Items hydrated here from the collection's base item rather than by pgstac in SQL: search
    # p50 0.64x and p95 0.58x of pgstac's hydration at 200 000 items (docs/benchmarks.md).
    use_api_hydrate: bool = True


class ServeSettings(BaseSettings):
    """Where ``python -m stac_api`` listens: loopback unless the operator opens it up."""

    model_config = SettingsConfigDict(env_prefix=API_PREFIX, env_file=".env", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address uvicorn binds.")
    port: int = Field(default=8081, ge=1, le=65535, description="Port uvicorn binds.")
    log_level: str = Field(default="info", description="uvicorn's log level.")


def _comma_list(value: object) -> object:
    """``EARTHSIG_API_KEYS=a,b`` as a list; blanks dropped so a trailing comma adds no key."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


class AuthSettings(BaseSettings):
    """API keys that authorise writes (only read when transactions are enabled).

    Keys come from ``EARTHSIG_API_KEYS`` (comma-separated) and/or ``EARTHSIG_API_KEYS_FILE``
    (one key per line, ``#`` comments; the form of a mounted secret). Clients send one in the
    ``EARTHSIG_API_KEY_HEADER`` header (``X-API-Key``).
    """

    model_config = SettingsConfigDict(env_prefix=API_PREFIX, env_file=".env", extra="ignore")

    keys: Annotated[Sequence[SecretStr], BeforeValidator(_comma_list), NoDecode] = ()
    keys_file: Path | None = Field(default=None, description="File with one API key a line.")
    key_header: str = Field(default="X-API-Key", description="Header carrying the API key.")

    def api_keys(self) -> frozenset[str]:
        """Every configured key; reads ``keys_file`` now (settings do no I/O when built)."""
        keys = {k.get_secret_value() for k in self.keys}
        if self.keys_file is not None:
            for line in self.keys_file.read_text(encoding="utf-8").splitlines():
                key = line.split("#", 1)[0].strip()
                if key:
                    keys.add(key)
        return frozenset(keys)


class TileStoreSettings(BaseSettings):
    """The tiler's shared tile store, told of every write (the variable the tiler and the
    pipeline read too)."""

    model_config = SettingsConfigDict(env_prefix="EARTHSIG_", env_file=".env", extra="ignore")

    tile_store_url: str = Field(
        default="", description="Redis of the tiler's tile store; writes through the API "
        "mark the stored tiles they change there (collection writes: all). Empty: no store.",
    )


class PyramidQueueSettings(BaseSettings):
    """Where writes through the API queue the redraw of the low-zoom pyramid under them: the
    pipeline's publish queue (the variables the pipeline's workers read), whose workers redraw
    it as they do after publishing a product."""

    model_config = SettingsConfigDict(env_prefix="EARTHSIG_", env_file=".env", extra="ignore")

    low_zoom_pyramid: bool = Field(
        default=True, description="Keep the collections' zoom 0-7 pyramid current (see the "
        "pipeline's setting of the same name); for the API: queue its redraw after item "
        "writes, when a queue is set (`EARTHSIG_REDIS_URL`).")
    redis_url: str = Field(
        default="", description="The pipeline's queue broker; the API queues the pyramid's "
        "redraw after a write there (empty: not queued; the stack sets it).")
    queue_prefix: str = Field(default="", description="Prefix of the pipeline's queues.")

    def publish_queue(self) -> str | None:
        """The queue redraw jobs go to, or None when the API queues none."""
        return f"{self.queue_prefix}publish" if self.low_zoom_pyramid and self.redis_url else None


class TilerLinkSettings(BaseSettings):
    """Where the tiler and its web map are, for links from the landing page and collections.

    Without ``EARTHSIG_API_TILER_URL`` the API links to no tiler (it cannot guess its address).
    """

    model_config = SettingsConfigDict(env_prefix=API_PREFIX, env_file=".env", extra="ignore")

    tiler_url: str | None = Field(default=None, description="Tiler base URL, e.g. http://h:8082")
    web_map_url: str | None = Field(default=None, description="Default: {tiler_url}/map.")


class SearchSettings(BaseSettings):
    """How long the API reuses pgstac's queryables when it checks a search's fields."""

    model_config = SettingsConfigDict(env_prefix=API_PREFIX, env_file=".env", extra="ignore")

    queryables_cache_s: float = Field(
        default=30.0, ge=0,
        description=(
            "Seconds a collection set's queryables are reused (0: asked of pgstac on every "
            "filtered or sorted search). A newly registered queryable is accepted after this."
        ),
    )


class AssetUrlSettings(BaseSettings):
    """Where the asset store is on disk and where clients reach it over HTTP: the API writes
    the store's paths as URLs (the same variables the pipeline and the tiler read)."""

    model_config = SettingsConfigDict(env_prefix="EARTHSIG_", env_file=".env", extra="ignore")

    asset_public_url: str | None = Field(
        default=None, description="Public HTTP(S) base of the asset store. For the local store "
        "the API answers <base>/<path in the store> for every asset href under it, e.g. the "
        "tiler's http://h:8082/assets (default: {EARTHSIG_API_TILER_URL}/assets; neither set: "
        "paths as registered). Changing it changes every item at once: nothing is stored.",
    )
    home: Path = Field(default=Path(".earthsig"), description="EarthSignature state folder.")
    asset_root: Path | None = Field(
        default=None, description="The local asset store (default: <home>/assets).")
    model_repository: Path = Field(
        default=Path(".earthsig/models"),
        validation_alias=AliasChoices("EARTHSIG_INFERENCE_MODEL_REPOSITORY"),
        description="The model repository (the inference setting): items' links to a model's "
                    "MLM document become the tiler's {EARTHSIG_API_TILER_URL}/models/ URLs.")

    asset_presign_s3: bool = Field(
        default=False, description="Answer s3:// asset hrefs (an S3 asset store without a "
        "public URL) as presigned HTTPS URLs, readable without credentials until they expire "
        "(credentials: the usual AWS_* variables of the API).")
    asset_presign_expiry_s: int = Field(
        default=3600, ge=60, le=7 * 86400,
        description="Lifetime of a presigned asset URL, seconds (S3 allows at most 7 days).")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, Ceph...); AWS when unset.")

    def public_base(self, tiler_url: str | None) -> str | None:
        """The public base URL of the store, or None: hrefs stay as registered."""
        if self.asset_public_url:
            return self.asset_public_url.rstrip("/")
        return f"{tiler_url.rstrip('/')}/assets" if tiler_url else None

    @property
    def store(self) -> Path:
        return (self.asset_root or self.home / "assets").resolve()


class LimitSettings(ClientLimitSettings):
    """What one client may ask of the API: sizes, rates and time (docs/reliability.md)."""

    model_config = SettingsConfigDict(env_prefix=API_PREFIX, env_file=".env", extra="ignore",
                                      populate_by_name=True)

    rate_read: str = Field(default="1200/minute", description="Budget of cheap reads "
                           "(landing page, collections, single items) per client.")
    rate_search: str = Field(default="300/minute", description="Budget of searches "
                             "(`/search`, `/collections/{id}/items`) per client.")
    rate_write: str = Field(default="60/minute", description="Budget of writes "
                            "(transactions) per client.")
