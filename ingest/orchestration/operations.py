"""Operating the pipeline over time: daily discovery, backfills, reprocessing, retiring.

Plain functions; the CLI (``infra/commands/operations.py``) and the scheduler's RQ job are
thin adapters over them. Long runs log a line per step with counts, rate and ETA.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, field

from redis import Redis

from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from catalog_schemas.earthsig_extension import MODEL, SOURCE_PRODUCT
from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.register import refresh_collection, registration_lock
from ingest.catalog.tile_invalidation import mark_tiles_changed
from ingest.orchestration.queue import Enqueued, enqueue_product
from ingest.outputs.store import asset_store
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)


class Progress:
    """A log line per step: done/total, rate, ETA."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.t0 = what, total, time.monotonic()

    def step(self, done: int, note: str = "") -> None:
        elapsed = time.monotonic() - self.t0
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        log.info("%s: %d/%d (%.2f/s, ETA %.0fs)%s", self.what, done, self.total, rate, eta,
                 f" {note}" if note else "")


@dataclass
class DiscoveryRun:
    days: list[str] = field(default_factory=list)
    found: int = 0
    skipped: int = 0
    queued: list[str] = field(default_factory=list)


def _active_model(model_ref: str | None, inference: InferenceSettings) -> str:
    return ModelRepository.from_settings(inference).resolve(
        model_ref or inference.default_model).spec.ref


def discover_days(start: dt.date, end: dt.date, *, connection: Redis, aoi: str = "europe",
                  max_cloud: float = 60.0, provider: str | None = None, level: str = "L2A",
                  model_ref: str | None = None, ingest: IngestSettings | None = None,
                  inference: InferenceSettings | None = None) -> DiscoveryRun:
    """Discover and queue day by day (a backfill is many days; the daily run is one)."""
    from ingest import discovery

    ingest = ingest or IngestSettings()
    inference = inference or InferenceSettings()
    model = _active_model(model_ref, inference)
    area = discovery.load_aoi(aoi)
    gateway = discovery.make_gateway()
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    run, progress = DiscoveryRun(), Progress(f"discover {start}..{end}", len(days))
    for i, day in enumerate(days, 1):
        found = discovery.discover(gateway, start=day, end=day, aoi=area, max_cloud=max_cloud,
                                   model_ref=model, provider=provider or
                                   ingest.discovery_provider, level=level)
        queued = discovery.enqueue_candidates(found.new, model, connection=connection)
        run.days.append(day.isoformat())
        run.found += len(found.new) + len(found.skipped)
        run.skipped += len(found.skipped)
        run.queued += [q.job_id for q in queued]
        progress.step(i, f"{day}: {len(found.new)} new, {len(found.skipped)} catalogued")
    return run


def daily_discovery(days_back: int = 1, aoi: str = "europe", max_cloud: float = 60.0) -> dict:
    """The scheduler's job: the look-back window ending ``days_back`` days ago, over Europe,
    one product per acquisition, what is new queued; the run logged (``discovery.runs``)."""
    from ingest import discovery
    from ingest.discovery.daily import run_discovery

    ingest, inference = IngestSettings(), InferenceSettings()
    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_back)
    record = run_discovery(discovery.make_gateway(),
                           connection=Redis.from_url(ingest.redis_url), end=end,
                           aoi=discovery.load_aoi(aoi), max_cloud=max_cloud,
                           model_ref=_active_model(None, inference), settings=ingest,
                           inference=inference)
    return {"run_id": record.run_id, "window": list(record.window),
            "provider": record.provider, "found": record.found,
            "skipped": sum(record.skipped.values()), "skipped_by_reason": record.skipped,
            "queued": record.queued}


def catalogued_sources(*, model_ref: str | None = None, bbox: list[float] | None = None,
                       start: dt.date | None = None, end: dt.date | None = None,
                       dsn: str = "") -> dict[str, str]:
    """Source product id -> source href of the items matching the filters."""
    search: dict = {"collections": [LANDCOVER_COLLECTION_ID], "limit": 10000,
                    "fields": {"include": ["links", "properties.earthsig:source_product",
                                           "properties.earthsig:model"]}}
    if bbox:
        search["bbox"] = bbox
    if start or end:
        lower = f"{start}T00:00:00Z" if start else ".."
        upper = f"{end}T23:59:59Z" if end else ".."
        search["datetime"] = f"{lower}/{upper}"
    if model_ref:
        search["filter-lang"] = "cql2-json"
        search["filter"] = {"op": "=", "args": [{"property": MODEL}, model_ref]}
    with pgstac_session(dsn) as db:
        [(result,)] = list(db.query("SELECT search(%s::jsonb)", [json.dumps(search)]))
    sources = {}
    for feature in result.get("features", []):
        link = next((ln for ln in feature.get("links", []) if ln.get("rel") == "derived_from"
                     and str(ln.get("title", "")).startswith("Sentinel-2 product")), None)
        if link:
            sources[feature["properties"][SOURCE_PRODUCT]] = link["href"]
    return sources


def reprocess(model_ref: str, *, connection: Redis, source_model: str | None = None,
              bbox: list[float] | None = None, start: dt.date | None = None,
              end: dt.date | None = None, dsn: str = "",
              ingest: IngestSettings | None = None,
              inference: InferenceSettings | None = None) -> list[Enqueued]:
    """Queue every catalogued product (matching the filters) for ``model_ref``.

    The items of other versions stay served until replaced or retired.
    """
    sources = catalogued_sources(model_ref=source_model, bbox=bbox, start=start, end=end,
                                 dsn=dsn)
    progress = Progress(f"reprocess with {model_ref}", len(sources))
    queued = []
    for i, href in enumerate(sorted(sources.values()), 1):
        queued.append(enqueue_product(href, model_ref, connection=connection, ingest=ingest,
                                      inference=inference, force=True))
        progress.step(i)
    return queued


# A model version's items, with the bbox their tiles depend on.
_MODEL_ITEMS = ("SELECT id, ST_XMin(geometry), ST_YMin(geometry), ST_XMax(geometry), "
                "ST_YMax(geometry) FROM items WHERE collection = %s "
                "AND content->'properties'->>'earthsig:model' = %s")


def retire(model_ref: str, *, dsn: str = "", ingest: IngestSettings | None = None) -> list[str]:
    """Remove the items of a model version and their files; return the removed item ids.

    The collection's models summary is refreshed with them (as a registration does, and under
    its lock), so maps stop choosing a version that has no items left.
    """
    ingest = ingest or IngestSettings()
    store = asset_store(ingest)
    with pgstac_session(dsn) as db:
        with registration_lock(db):
            rows = list(db.query(_MODEL_ITEMS, [LANDCOVER_COLLECTION_ID, model_ref]))
            gone = [{"id": r[0], "collection": LANDCOVER_COLLECTION_ID, "bbox": list(r[1:])}
                    for r in rows]
            ids = [item["id"] for item in gone]
            for item_id in ids:
                list(db.query("SELECT delete_item(%s, %s)",
                              [item_id, LANDCOVER_COLLECTION_ID]))
            refresh_collection(db, LANDCOVER_COLLECTION_ID, models=True)
        mark_tiles_changed(db, gone, settings=ingest)
    for item_id in ids:  # files after the items: nothing ever points at a missing file
        store.discard(f"{LANDCOVER_COLLECTION_ID}/{item_id}")
    log.info("retired %d item(s) of %s", len(ids), model_ref)
    return ids
