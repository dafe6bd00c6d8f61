"""Publishing an item, one sequence for land cover and every derived collection:

    stage -> checksum -> commit the run -> build the item -> upsert -> prune

The files are written into a staging folder and checksummed (``ingest.outputs.staging``); the
folder is committed as a new run ``<collection>/<item>/<run>/`` of the asset store
(``ingest.outputs.store``); the item is built pointing at the committed files and upserted
(``ingest.catalog.register``: the collection loaded first when missing or changed, the newest
run winning); only then are the item's earlier runs pruned. No reader ever sees half an output:
a run that nothing will point at (an invalid item, a failed registration, a newer run already
registered) is discarded, and the earlier item keeps its own, untouched files.

Two halves, because land cover runs them in two RQ stages, possibly on two hosts:
:func:`store_run` (the infer stage) returns a JSON-able :class:`StoredRun`, and
:func:`register_run` (the publish stage) registers it. :func:`publish` does both in one call
(the derived collections). The pause points (fault-injection tests) are named after the
land-cover stages that run the halves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pystac

from catalog_schemas.items import PublishedFile
from ingest.catalog.register import CollectionDefinition, upsert_item
from ingest.errors import InvalidProductError
from ingest.orchestration.pausepoints import pause_point
from ingest.outputs.cog import DiskFullError, disk_full_error, is_disk_full
from ingest.outputs.staging import describe, new_run_id, staging_folder
from ingest.outputs.store import AssetStore, asset_store
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)

# Writes a run's files into the staging folder it is given: asset key -> file name.
WriteFiles = Callable[[Path], Mapping[str, str]]
# Builds the item from the committed files: asset key -> href, size and checksum.
BuildItem = Callable[[dict[str, PublishedFile]], pystac.Item]


@dataclass
class StoredRun:
    """A run whose files are committed to the asset store and whose item is built, not yet
    registered. Plain data (JSON-able), so a later stage on another host can register it."""

    item: dict
    run: str  # the run's path under the asset store's root: <collection>/<item id>/<run id>
    item_path: str  # <collection>/<item id>


@contextmanager
def _timed(name: str, what: str, timings: dict[str, float] | None) -> Iterator[None]:
    t0 = time.perf_counter()
    log.info("%s: %s ...", what, name)
    yield
    seconds = time.perf_counter() - t0
    if timings is not None:
        timings[name] = seconds
    log.info("%s: %s done in %.2fs", what, name, seconds)


def _store(collection_id: str, item_id: str, write: WriteFiles, build: BuildItem,
           store: AssetStore, timings: dict[str, float] | None
           ) -> tuple[StoredRun, pystac.Item]:
    item_path = f"{collection_id}/{item_id}"
    run = f"{item_path}/{new_run_id()}"
    try:
        with staging_folder(store.staging_parent(item_path)) as staging:
            names = dict(write(staging))
            described = {key: describe(staging / name) for key, name in names.items()}
            pause_point("infer-staged")
            with _timed("commit run", item_id, timings):
                hrefs = store.commit_run(staging, run)
    except Exception as exc:
        # The staging folder is gone by now; a full disk is named (and retried), whichever
        # writer (COG, GeoParquet, PNG, the folder itself) ran into it.
        if not isinstance(exc, DiskFullError) and is_disk_full(exc):
            raise disk_full_error(store.staging_parent(item_path) / "staging", exc) from exc
        raise
    pause_point("infer-published")
    try:
        item = build({key: PublishedFile(hrefs[names[key]], size, checksum)
                      for key, (size, checksum) in described.items()})
    except BaseException:
        store.discard(run)  # no item to point at it
        raise
    return StoredRun(item.to_dict(include_self_link=False), run, item_path), item


def store_run(collection_id: str, item_id: str, write: WriteFiles, build: BuildItem, *,
              ingest: IngestSettings | None = None, timings: dict[str, float] | None = None
              ) -> StoredRun:
    """Stage the files with ``write``, checksum them, commit them as a new run of the item and
    build its item with ``build``; the first half (``timings`` gets ``commit run``)."""
    store = asset_store(ingest or IngestSettings())
    return _store(collection_id, item_id, write, build, store, timings)[0]


def register_run(stored: StoredRun, definition: CollectionDefinition, *,
                 ingest: IngestSettings | None = None, dsn: str = "",
                 timings: dict[str, float] | None = None) -> bool:
    """Upsert the run's item into ``definition``'s collection, then prune the item's earlier
    runs; the second half (``timings`` gets ``register``).

    False when a newer run of the item is registered already: ours is discarded. An invalid
    item discards the run too (it can never be registered); any other failure leaves it for a
    retry of this half, the caller discarding it when none will come.
    """
    ingest = ingest or IngestSettings()
    store = asset_store(ingest)
    with _timed("register", str(stored.item.get("id")), timings):
        try:
            registered = upsert_item(pystac.Item.from_dict(stored.item), definition, dsn,
                                     ingest)
        except InvalidProductError:
            store.discard(stored.run)  # never registrable: nothing may point at it
            raise
    pause_point("publish-registered")
    if not registered:  # a newer run of this item is registered: ours is not needed
        store.discard(stored.run)
        return False
    store.prune(stored.item_path, keep=stored.run)
    return True


def publish(definition: CollectionDefinition, item_id: str, write: WriteFiles,
            build: BuildItem, *, ingest: IngestSettings | None = None, dsn: str = ""
            ) -> pystac.Item:
    """Both halves in one call: the files committed as a new run, the item built and
    registered, earlier runs pruned; the item as built. Any failure discards the new run
    (nobody retries it here): the earlier item keeps pointing at its own."""
    ingest = ingest or IngestSettings()
    store = asset_store(ingest)
    stored, item = _store(definition.id, item_id, write, build, store, None)
    try:
        register_run(stored, definition, ingest=ingest, dsn=dsn)
    except BaseException:
        store.discard(stored.run)
        raise
    return item
