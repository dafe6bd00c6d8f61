"""Tiler settings: the service's own (``EARTHSIG_TILER_*``) and the database's (libpq ``PG*``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict
from titiler.pgstac.settings import PostgresSettings

from catalog_schemas.client_limit_settings import ClientLimitSettings
from tile_generations import TOKEN_TTL_S

# The web map's npm packages, installed by `make install` (infra/make/tiler.mk).
WEB_DIR = Path(__file__).parent / "web"


def _split_commas(value: Any) -> Any:
    """Let list settings be given as ``a,b`` in the environment as well as JSON."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        return json.loads(value)
    return [part.strip() for part in value.split(",") if part.strip()]


class TilerSettings(ClientLimitSettings):
    """HTTP side of the tiler service."""

    model_config = SettingsConfigDict(
        env_prefix="EARTHSIG_TILER_", env_file=".env", extra="ignore", populate_by_name=True
    )

    host: str = Field(default="127.0.0.1", description="Address `serve()` binds.")
    port: int = Field(default=8082, description="Port `serve()` binds.")
    root_path: str = Field(default="", description="ASGI root path when behind a proxy.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=["*"], description="Allowed CORS origins, comma separated."
    )
    cachecontrol: str = Field(
        default="public, max-age=3600", description="Cache-Control header of tile responses."
    )
    # The same variables the pipeline reads: the tiler serves what the pipeline published.
    home: Path = Field(
        default=Path(".earthsig"),
        validation_alias=AliasChoices("EARTHSIG_TILER_HOME", "EARTHSIG_HOME"),
        description="EarthSignature state folder; assets live in `<home>/assets` by default.",
    )
    ingest_asset_root: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("EARTHSIG_ASSET_ROOT"),
        description="The pipeline's asset store when moved out of `<home>/assets`.",
    )
    model_repository: Path = Field(
        default=Path(".earthsig/models"),
        validation_alias=AliasChoices("EARTHSIG_INFERENCE_MODEL_REPOSITORY"),
        description="The model repository the pipeline reads (the inference setting): its "
                    "MLM documents are served at `/models/`, where items link to them.",
    )
    active_versions: dict[str, str] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("EARTHSIG_INFERENCE_ACTIVE_VERSIONS"),
        description='The active version per model, JSON (the pipeline\'s setting): a '
                    'collection\'s mosaic shows these versions, or each model\'s highest, and '
                    'no other (`model=name:version` or `model=all` asks for another).',
    )
    asset_roots: Annotated[list[str], NoDecode] = Field(
        default=[],
        description=(
            "Folders (or URL prefixes such as `s3://bucket/clc/`) the tiler may read, comma "
            "separated; default the pipeline's asset store. Anything else is refused (403)."
        ),
    )
    mosaic_minzoom: int = Field(
        default=8,
        ge=0,
        le=24,
        description=(
            "Lowest zoom a mosaic is drawn at (a collection's render may ask for a higher one); "
            "lower zooms are refused at once instead of reading hundreds of products."
        ),
    )
    mosaic_maxzoom: int = Field(
        default=16, ge=0, le=24, description="Highest zoom a mosaic's TileJSON announces."
    )
    web_modules: Path = Field(
        default=WEB_DIR / "node_modules",
        description="The web map's installed npm packages (Leaflet).",
    )
    basemap_url: str = Field(
        default="",
        description="Optional XYZ raster basemap for the web map (`{z}/{x}/{y}`), drawn instead of "
        "the shipped Natural Earth one (empty: the shipped one, offline).",
    )
    max_tile_size: int = Field(
        default=1024, ge=256, description="Largest `tilesize` served (pixels); larger is a 400."
    )
    max_image_size: int = Field(
        default=4096,
        ge=256,
        description=(
            "Largest width, height or max_size of a preview, part, feature or statistics read "
            "(pixels); larger is a 400."
        ),
    )
    item_cache_ttl: float = Field(
        default=10.0,
        ge=0,
        description=(
            "Seconds at most an item read from pgstac is reused for its routes (0: read it on "
            "every request); with a tile store, a write of the item (re-published, deleted) "
            "has it read again at once, and an entry whose asset files are gone is read again."
        ),
    )
    legend_cache_ttl: float = Field(
        default=60.0,
        ge=0,
        description=(
            "Seconds at most the classes a collection's maps can contain "
            "(`/legends/clc?collection=`) are reused before pgstac is read again (0: read on "
            "every request); with a tile store, a write of one of its items has them read "
            "again at once. Also the max-age of those legend responses."
        ),
    )
    tile_cache_ttl: float = Field(
        default=30.0,
        ge=0,
        description=(
            "Seconds a rendered tile is kept in memory and served again to any client asking "
            "for the same URL (0: render every request). A re-processed or newly ingested "
            "product shows in cached tiles after at most this long."
        ),
    )
    tile_cache_mb: int = Field(
        default=64, ge=1, description="Memory the tile cache may hold (MiB); oldest out first."
    )
    tile_store_url: str = Field(
        default="",
        validation_alias=AliasChoices("EARTHSIG_TILER_TILE_STORE_URL", "EARTHSIG_TILE_STORE_URL"),
        description=(
            "Redis where catalog tiles (items, collections, searches in WebMercatorQuad) are "
            "kept for every tiler process until the catalog under them changes; the pipeline "
            "and the API read the same `EARTHSIG_TILE_STORE_URL` to mark what they change. "
            "Empty: no store (the memory cache above serves all tiles)."
        ),
    )
    tile_store_ttl: int = Field(
        default=86400, ge=1, le=TOKEN_TTL_S,
        description="Seconds a stored tile nobody asks for again is kept (catalog changes "
                    "replace it at once, whatever this is).",
    )
    tile_store_mb: int = Field(
        default=512, ge=1, description="Bytes the tile store may hold per catalog (MiB); "
                                       "oldest out first.",
    )
    max_searches: int = Field(
        default=10_000, ge=1, description="Most searches kept in pgstac; a new registration "
        "beyond it is a 400 (registering one already kept always succeeds).")
    search_keep_days: float = Field(
        default=30.0, gt=0, description="Days a registered search no map has used is kept; "
        "older ones are deleted at the next registration.")
    rate_read: str = Field(default="3000/minute", description="Budget of tiles and other reads "
                           "per client (a map view asks for ~20 tiles at once).")
    rate_write: str = Field(default="30/hour", description="Budget of search registrations "
                            "(`POST /searches/register`) per client.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default=[], validation_alias=AliasChoices("EARTHSIG_TILER_API_KEYS", "EARTHSIG_API_KEYS"),
        description="API keys (the API's write keys by default), comma separated: their "
                    "clients get the higher budgets.")
    api_key_header: str = Field(
        default="X-API-Key", validation_alias=AliasChoices("EARTHSIG_TILER_API_KEY_HEADER",
                                                           "EARTHSIG_API_KEY_HEADER"),
        description="Header carrying the API key.")
    healthz_timeout: float = Field(
        default=1.0, description="Seconds `/healthz` waits for a database connection."
    )
    log_level: str = Field(default="info", description="uvicorn log level for `serve()`.")

    @field_validator("cors_origins", "asset_roots", "api_keys", mode="before")
    @classmethod
    def split_lists(cls, value: Any) -> Any:
        """Accept ``a,b`` from the environment as well as a JSON list."""
        return _split_commas(value)

    @property
    def asset_store(self) -> Path:
        """The pipeline's local asset store, served at ``/assets/`` (tiler/asset_files.py)."""
        return (self.ingest_asset_root or self.home / "assets").resolve()

    @property
    def allowed_asset_roots(self) -> list[str]:
        """The configured roots, or the pipeline's asset store (``<home>/assets``)."""
        if self.asset_roots:
            return list(self.asset_roots)
        return [str(self.asset_store)]


class DatabaseSettings(PostgresSettings):
    """titiler-pgstac's ``PG*`` / ``DATABASE_URL`` settings, password optional.

    Upstream quotes ``PGPASSWORD`` unconditionally and fails without it; with trust auth or a
    ``.pgpass`` file there is none, and libpq still finds it when the URL omits it.
    """

    pgpassword: str = ""
