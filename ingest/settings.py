"""Settings of the pipeline (env prefix ``EARTHSIG_``); the database comes from libpq PG*."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EARTHSIG_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path(".earthsig"), description="Local state folder.")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Queue broker.")
    asset_root: Path | None = Field(
        default=None, description="Where published COGs go (default: <home>/assets)."
    )
    asset_store_url: str | None = Field(
        default=None, description="s3://bucket/prefix to publish to object storage instead of "
        "the local asset root (credentials: the usual AWS_* variables).",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, Ceph...); AWS when unset.",
    )
    asset_public_url: str | None = Field(
        default=None, description="Public HTTP(S) base of the bucket: hrefs become "
        "<base>/<key> instead of s3://bucket/<key>, readable by any GDAL without credentials.",
    )
    inputs_root: Path | None = Field(
        default=None, description="Where the fetch stage downloads the products that cannot "
        "be read in place (SAFE zips), for the later stages of any worker to read: a folder "
        "every worker mounts at the same path (default: <asset root>/inputs; with an S3 asset "
        "store, <home>/inputs, which then has to be shared). A product already there is not "
        "downloaded again.",
    )
    keep_inputs: bool = Field(
        default=False, description="Keep the products the fetch stage downloaded once their "
        "product is published (default: each is removed when the last chain that needs it, "
        "whatever its model version, has published). Products read in place are never "
        "touched.",
    )
    inputs_max_gb: float | None = Field(
        default=None, gt=0, description="Ceiling on the inputs folder's size (GB, partial "
        "downloads included): a fetch job that would go past it is put back on its queue "
        "(paused, not failed) until products are published and removed. Unset: no ceiling.",
    )
    inputs_min_free_gb: float = Field(
        default=5.0, ge=0, description="Free space a fetch job leaves on the inputs folder's "
        "file system: below it, fetch jobs pause as above the size ceiling.",
    )
    fetch_pause_s: int = Field(
        default=60, ge=1, description="Delay before a paused fetch job (disk ceiling, or no "
        "download slot free) is tried again; pauses never use up its retries.",
    )
    fetch_per_provider: int = Field(
        default=4, ge=1, description="Downloads at once from one EODAG provider, over all "
        "workers and hosts.",
    )
    fetch_per_host: int = Field(
        default=2, ge=1, description="Downloads at once on one worker host.",
    )
    fetch_slot_ttl_s: int = Field(
        default=60, ge=2, description="Life of a download slot unless its holder renews it "
        "(every third of it): a worker killed while downloading frees its slot after this.",
    )
    fetch_slot_wait_s: float = Field(
        default=30.0, ge=0, description="Longest a fetch job waits for a download slot before "
        "it is put back on its queue (paused).",
    )
    discovery_provider: str = Field(
        default="earth_search", description="EODAG provider of the daily discovery and "
        "backfills (credentials through EODAG's own configuration).",
    )
    discovery_providers: list[str] = Field(
        default=[], description="EODAG providers of the daily discovery in order of preference "
        "(JSON list): each is retried, then the next one is searched instead. `*` stands for "
        "every other provider EODAG offers the collection from, in EODAG's priority order. "
        "Empty: `discovery_provider` alone.",
    )
    discovery_lookback_days: int = Field(
        default=4, ge=1, le=60, description="Sensing days each daily discovery looks at, up to "
        "the day before: products published days late are found by a later run.",
    )
    discovery_max_catchup_days: int = Field(
        default=30, ge=1, description="After failed runs, a run looks back to the days the "
        "missed runs would have covered, but never more than this many days.",
    )
    discovery_levels: list[Literal["L2A", "L1C"]] = Field(
        default=["L2A", "L1C"], description="Processing levels searched (JSON list). Of one "
        "acquisition the L2A product is processed, its L1C only when no L2A is found.",
    )
    discovery_requeue_reprocessed: bool = Field(
        default=False, description="Queue an acquisition again when the provider lists it "
        "under a newer processing baseline than the one already published.",
    )
    discovery_search_attempts: int = Field(
        default=3, ge=1, description="Searches of a provider before the next one is tried "
        "(each HTTP request is also retried by EODAG: its retry_total setting).",
    )
    discovery_retry_delays_s: list[float] = Field(
        default=[30.0, 120.0], description="Waits between the searches of one provider "
        "(seconds, JSON list; the last one repeats).",
    )
    discovery_runs_kept: int = Field(
        default=200, ge=1, description="Discovery runs kept in the run log (Redis).",
    )
    ops_day_deadline_h: float = Field(
        default=12.0, ge=0, le=72, description="When a sensing day must be done: this many "
        "hours after the midnight (UTC) that ends it, i.e. after the daily discovery that "
        "looks for it has run. A day with products still queued, waiting or running then "
        "raises the alert of `earthsig status --check` and GET /status.",
    )
    ops_max_failed_share: float = Field(
        default=0.05, ge=0, le=1, description="Share of a day's products that may fail "
        "before the alert is raised (0.05: more than 5 %).",
    )
    ops_status_days: int = Field(
        default=7, ge=1, description="Sensing days shown by `earthsig status` and GET /status "
        "(the most recent ones with work or discoveries).",
    )
    ops_status_runs: int = Field(
        default=10, ge=1, description="Discovery runs shown by `earthsig status`; their "
        "decisions give the days' discovered counts.",
    )
    gdal_cachemax_mb: int = Field(
        default=128, ge=16, description="GDAL block cache of a worker: reading a product "
        "window by window keeps every band open, and GDAL's default (5 % of RAM) would let "
        "memory follow the product size instead of the window size.",
    )
    queue_prefix: str = Field(
        default="", description="Prefix of the stage queues (fetch, infer, publish), to run "
        "several pipelines on one Redis.",
    )
    fetch_timeout_s: int = Field(default=1800, ge=10, description="Time limit of a fetch job.")
    infer_timeout_s: int = Field(
        default=3600, ge=10, description="Time limit of an infer job (RQ's default 180 s is far "
        "too short for a full Sentinel-2 tile).",
    )
    publish_timeout_s: int = Field(default=600, ge=10,
                                   description="Time limit of a publish job.")
    retries: int = Field(default=3, ge=0,
                         description="Retries of a stage after a transient failure.")
    retry_intervals_s: list[int] = Field(
        default=[10, 60, 300], description="Back-off between retries (seconds, JSON list).",
    )
    tile_store_url: str = Field(
        default="", description="Redis of the tiler's shared tile store (the tiler's "
        "`EARTHSIG_TILE_STORE_URL`): registrations mark the tiles they change there, so stored "
        "tiles are drawn again. Empty: no tile store.",
    )
    seed_tiler_url: str = Field(
        default="", description="Tiler to draw a product's tiles on after it is published, so "
        "that the first map user gets them from the tile store (empty: no seeding).",
    )
    seed_item_zooms: str = Field(
        default="8-12", pattern=r"^\d+-\d+$|^$",
        description="Zooms of a product's own tiles drawn ahead (`min-max`, empty: none).",
    )
    seed_budget_s: float = Field(
        default=120.0, ge=1, description="Longest a publish job spends drawing tiles ahead; "
        "tiles not drawn by then are drawn when first asked for.",
    )
    seed_mosaic_zooms: str = Field(
        default="8-11", pattern=r"^\d+-\d+$|^$",
        description="Zooms of its collection's mosaic tiles over the product drawn ahead.",
    )
    low_zoom_pyramid: bool = Field(
        default=True,
        description="After registering a product, redraw the collection's zoom 0-7 pyramid "
        "over it (catalog_schemas/pyramid.py) through the tiler at seed_tiler_url; a local "
        "asset store only (the pyramid lives in it, where the tiler reads it).",
    )
    l1c_cloud_resolution_m: int = Field(
        default=60, ge=20, le=320, multiple_of=20,
        description="Resolution s2cloudless runs at for L1C products' cloud masks (metres): "
        "60 is the resolution of its cirrus and water-vapour bands; 20 is finer and about 9x "
        "slower; Sentinel Hub runs it at 160.",
    )
    l1c_haze_removal: bool = Field(
        default=True, description="Subtract each band's haze (dark-object subtraction) from "
        "L1C products before the land-cover model, which was made for surface reflectance.",
    )
    polygon_min_area_m2: float = Field(
        default=10_000.0, ge=0, description="Regions smaller than this are merged into their "
        "neighbours before vectorising (CLC's own minimum mapping unit is 25 ha).",
    )

    @property
    def assets(self) -> Path:
        return (self.asset_root or self.home / "assets").resolve()

    @property
    def inputs(self) -> Path:
        """The fetch stage's download folder (``inputs_root`` or its default)."""
        if self.inputs_root is not None:
            return self.inputs_root.resolve()
        if self.asset_store_url:
            return (self.home / "inputs").resolve()
        return self.assets / "inputs"
