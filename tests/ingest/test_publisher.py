"""The one publisher (ingest.catalog.publisher): land cover and the derived collections go through
the same stage -> checksum -> commit -> build -> upsert -> prune sequence, the same
``ensure_collection`` and the same extent refresh, and keep its guarantees (the newest run wins,
a run nothing will point at is discarded).

Small hand-built items and files: the sequence is under test, not the products (the pipeline's
and the derived products' own tests run it on real ones).
"""

from __future__ import annotations

import errno
import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pystac
import pytest

from catalog_schemas import labels as lb
from catalog_schemas import landcover_change as ch
from catalog_schemas.collections import (
    LANDCOVER_COLLECTION_ID,
    LANDCOVER_PARTITION_TRUNC,
    PARTITION_TRUNC,
    landcover_collection,
)
from catalog_schemas.items import PublishedFile
from catalog_schemas.queryables import landcover_queryables
from ingest.catalog import publisher, register
from ingest.catalog.pgstac_db import pgstac_session
from ingest.catalog.publisher import StoredRun, publish, register_run, store_run
from ingest.catalog.register import (
    DEFINITION_KEY,
    CollectionDefinition,
    definition_document,
    landcover_definition,
)
from ingest.errors import InvalidProductError, TransientError
from ingest.outputs.cog import DiskFullError
from ingest.outputs.staging import multihash_sha256
from ingest.settings import IngestSettings

BBOX = [3.0, 43.0, 4.0, 44.0]
MODEL = "clc-spectral:1"


def _settings(tmp_path: Path) -> IngestSettings:
    return IngestSettings(_env_file=None, home=tmp_path)


def _write(text: str = "pixels"):
    def write(folder: Path) -> dict[str, str]:
        (folder / "data.tif").write_text(text)
        return {"data": "data.tif"}

    return write


def _build(collection_id: str, item_id: str, day: int = 1):
    """An item of ``collection_id`` carrying ``earthsig:model``, as landcover, change and label
    items all do."""

    def build(files: dict[str, PublishedFile]) -> pystac.Item:
        west, south, east, north = BBOX
        item = pystac.Item(
            id=item_id, bbox=BBOX, collection=collection_id,
            geometry={"type": "Polygon", "coordinates": [[[west, south], [east, south],
                                                          [east, north], [west, north],
                                                          [west, south]]]},
            datetime=datetime(2024, 7, day, 10, tzinfo=UTC),
            properties={"earthsig:model": MODEL})
        for key, f in files.items():
            item.add_asset(key, pystac.Asset(f.href, extra_fields={
                "file:size": f.size, "file:checksum": f.checksum}))
        return item

    return build


def _collection(dsn: str, collection_id: str) -> dict | None:
    with pgstac_session(dsn) as db:
        rows = list(db.query("SELECT content FROM collections WHERE id = %s", [collection_id]))
    return rows[0][0] if rows else None


def _item(dsn: str, collection_id: str, item_id: str) -> dict | None:
    with pgstac_session(dsn) as db:
        rows = list(db.query(register.REGISTERED, [item_id, collection_id]))
    return rows[0][0] if rows else None


def _runs(settings: IngestSettings, item_path: str) -> list[str]:
    return sorted(p.name for p in (settings.assets / item_path).iterdir())


def _described(collection: pystac.Collection, description: str) -> pystac.Collection:
    collection.description = description
    return collection


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """(collection id, loaded?) of every ensure_collection call a registration makes."""
    calls: list[tuple[str, bool]] = []
    ensure = register.ensure_collection

    def spy(db, collection, queryables=None):  # noqa: ANN001, ANN202
        loaded = ensure(db, collection, queryables)
        calls.append((collection.id, loaded))
        return loaded

    monkeypatch.setattr(register, "ensure_collection", spy)
    return calls


def test_digests_are_computed_as_before() -> None:
    """Catalogs loaded before the one publisher keep their digests: nothing is reloaded."""
    collection = landcover_collection()
    old_landcover = hashlib.sha256(json.dumps(
        [collection.to_dict(), landcover_queryables(), LANDCOVER_PARTITION_TRUNC],
        sort_keys=True).encode()).hexdigest()[:16]
    definition = landcover_definition()
    assert definition_document(definition.collection, definition.queryables)[1] == old_landcover
    for derived in (ch.changes_collection(), lb.labels_collection()):
        doc = derived.to_dict(include_self_link=False)
        old = hashlib.sha256(json.dumps([doc, PARTITION_TRUNC], sort_keys=True).encode()
                             ).hexdigest()[:16]
        assert definition_document(derived) == ({**doc, DEFINITION_KEY: old}, old)


def test_land_cover_and_a_derived_collection_share_ensure_collection_and_refresh(
        tmp_path: Path, pgstac_dsn: str, loads: list[tuple[str, bool]]) -> None:
    settings = _settings(tmp_path)
    changes = CollectionDefinition(ch.changes_collection())
    for day in (1, 2):  # twice each: loaded by the first registration only
        stored = store_run(LANDCOVER_COLLECTION_ID, f"lc-{day}", _write(),
                           _build(LANDCOVER_COLLECTION_ID, f"lc-{day}", day), ingest=settings)
        assert register_run(stored, landcover_definition(), ingest=settings, dsn=pgstac_dsn)
        publish(changes, f"change-{day}", _write(), _build(changes.id, f"change-{day}", day),
                ingest=settings, dsn=pgstac_dsn)
    assert loads == [("landcover", True), ("changes", True), ("landcover", False),
                     ("changes", False)]

    # The derived collection is stored as the old code wrote it: its document, its digest and
    # the extent of its items; no summaries, though its items carry earthsig:model.
    stored_changes = _collection(pgstac_dsn, "changes")
    assert stored_changes is not None
    expected, _ = definition_document(changes.collection)
    assert "summaries" not in stored_changes
    assert stored_changes == {**expected, "extent": stored_changes["extent"]}
    # Land cover: the same refresh, with its models summary.
    stored_landcover = _collection(pgstac_dsn, "landcover")
    assert stored_landcover is not None
    assert stored_landcover["summaries"]["earthsig:model"] == [MODEL]
    assert len(stored_landcover["summaries"]["classification:classes"]) == 44
    for content in (stored_changes, stored_landcover):  # the items' extent, for both
        assert content["extent"]["spatial"]["bbox"] == [BBOX]
        start, end = content["extent"]["temporal"]["interval"][0]
        assert start.startswith("2024-07-01") and end.startswith("2024-07-02")

    # A changed definition is loaded again, by the next registration into it.
    changed = CollectionDefinition(_described(ch.changes_collection(), "changed"))
    publish(changed, "change-3", _write(), _build(changes.id, "change-3", 3), ingest=settings,
            dsn=pgstac_dsn)
    assert loads[-1] == ("changes", True)
    reloaded = _collection(pgstac_dsn, "changes")
    assert reloaded is not None and reloaded["description"] == "changed"
    assert reloaded[DEFINITION_KEY] == definition_document(changed.collection)[1]
    assert "summaries" not in reloaded


@pytest.mark.parametrize("definition", [landcover_definition(),
                                        CollectionDefinition(ch.changes_collection())],
                         ids=["landcover", "changes"])
def test_the_newest_run_wins_whatever_order_twins_register_in(
        tmp_path: Path, pgstac_dsn: str, definition: CollectionDefinition) -> None:
    settings = _settings(tmp_path)
    build = _build(definition.id, "twin")
    older = store_run(definition.id, "twin", _write("older"), build, ingest=settings)
    newer = store_run(definition.id, "twin", _write("newer"), build, ingest=settings)
    assert newer.run > older.run
    assert register_run(newer, definition, ingest=settings, dsn=pgstac_dsn) is True
    # The older run, registering last, writes nothing and is discarded.
    assert register_run(older, definition, ingest=settings, dsn=pgstac_dsn) is False
    registered = _item(pgstac_dsn, definition.id, "twin")
    assert registered is not None
    assert registered["assets"]["data"]["href"] == newer.item["assets"]["data"]["href"]
    assert _runs(settings, newer.item_path) == [newer.run.rsplit("/", 1)[1]]
    assert Path(registered["assets"]["data"]["href"]).read_text() == "newer"


def test_registering_prunes_earlier_runs(tmp_path: Path, pgstac_dsn: str) -> None:
    settings = _settings(tmp_path)
    definition = CollectionDefinition(lb.labels_collection())
    first = publish(definition, "label", _write("first"), _build(definition.id, "label"),
                    ingest=settings, dsn=pgstac_dsn)
    second = publish(definition, "label", _write("second"), _build(definition.id, "label"),
                     ingest=settings, dsn=pgstac_dsn)
    old, new = Path(first.assets["data"].href), Path(second.assets["data"].href)
    assert not old.exists() and new.read_text() == "second"
    assert _runs(settings, f"{definition.id}/label") == [new.parent.name]
    registered = _item(pgstac_dsn, definition.id, "label")
    assert registered is not None
    assert registered["assets"]["data"]["file:checksum"] == multihash_sha256(new)


def test_a_failed_registration_discards_the_new_run(tmp_path: Path, pgstac_dsn: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path)
    definition = CollectionDefinition(ch.changes_collection())
    before = publish(definition, "change", _write("before"), _build(definition.id, "change"),
                     ingest=settings, dsn=pgstac_dsn)

    def down(*_: object) -> bool:
        raise TransientError("pgstac unavailable (injected)")

    monkeypatch.setattr(publisher, "upsert_item", down)
    with pytest.raises(TransientError):
        publish(definition, "change", _write("after"), _build(definition.id, "change"),
                ingest=settings, dsn=pgstac_dsn)
    kept = Path(before.assets["data"].href)
    assert _runs(settings, f"{definition.id}/change") == [kept.parent.name]
    assert kept.read_text() == "before"
    registered = _item(pgstac_dsn, definition.id, "change")
    assert registered is not None and registered["assets"]["data"]["href"] == str(kept)


def test_the_register_half_keeps_its_run_for_a_retry_but_not_an_invalid_one(
        tmp_path: Path, pgstac_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path)
    definition = landcover_definition()
    stored = store_run(definition.id, "lc", _write(), _build(definition.id, "lc"),
                       ingest=settings)
    run_dir = settings.assets / stored.run

    def fail(error: Exception):  # noqa: ANN202
        def upsert(*_: object) -> bool:
            raise error
        return upsert

    monkeypatch.setattr(publisher, "upsert_item", fail(TransientError("injected")))
    with pytest.raises(TransientError):
        register_run(stored, definition, ingest=settings, dsn=pgstac_dsn)
    assert run_dir.is_dir()  # the publish stage's retry registers this very run
    monkeypatch.setattr(publisher, "upsert_item", fail(InvalidProductError("injected")))
    with pytest.raises(InvalidProductError):
        register_run(stored, definition, ingest=settings, dsn=pgstac_dsn)
    assert not run_dir.exists()  # never registrable: nothing may point at it


def test_an_item_that_cannot_be_built_discards_its_run(tmp_path: Path) -> None:
    settings = _settings(tmp_path)

    def broken(files: dict[str, PublishedFile]) -> pystac.Item:
        raise InvalidProductError("no item (injected)")

    with pytest.raises(InvalidProductError):
        store_run("changes", "broken", _write(), broken, ingest=settings)
    assert _runs(settings, "changes/broken") == []  # neither run nor staging folder


def test_a_full_disk_is_named(tmp_path: Path) -> None:
    settings = _settings(tmp_path)

    def write(folder: Path) -> dict[str, str]:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskFullError, match="disk full"):
        store_run("changes", "full", write, _build("changes", "full"), ingest=settings)
    assert _runs(settings, "changes/full") == []


def test_a_stored_run_is_plain_data(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    stored = store_run("changes", "plain", _write(), _build("changes", "plain"),
                       ingest=settings, timings=(timings := {}))
    assert StoredRun(**json.loads(json.dumps(asdict(stored)))) == stored
    assert stored.item_path == "changes/plain" and stored.run.startswith("changes/plain/")
    assert set(timings) == {"commit run"}


def test_an_item_of_another_collection_is_refused(tmp_path: Path, pgstac_dsn: str) -> None:
    settings = _settings(tmp_path)
    stored = store_run("changes", "stray", _write(), _build("changes", "stray"),
                       ingest=settings)
    with pytest.raises(ValueError, match="not 'labels'"):
        register_run(stored, CollectionDefinition(lb.labels_collection()),
                     ingest=settings, dsn=pgstac_dsn)
