"""Item writes through the STAC API's transactions keep the collection's extent and
``earthsig:model`` summary true to its items, as the pipeline's registrations do: a model
version only the API wrote is listed (so the tiler's default map can show it), a version whose
last item the API deleted is not, and a collection emptied lists no model.

One real uvicorn server with writes on, on a real pgstac database; each test writes to a
collection of its own, loaded as the pipeline loads it (partitioned by month, its first items
registered and the collection refreshed).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import pystac
import pytest
from psycopg_pool import ConnectionPool

from catalog_schemas.collections import landcover_collection
from infra.postgres import libpq_env
from ingest.catalog.register import CollectionDefinition, upsert_item
from ingest.settings import IngestSettings
from tests.servers import uvicorn_server
from tests.stac_api.conftest import FACTORY, HEALTH_PATH
from tests.stac_api.offline_validation import CoreOnlyValidator
from tests.stac_api.sample_catalog import MONTPELLIER, PROVENCE, Product, landcover_item
from tiler.model_versions import registered_models

KEY = "k3y-for-tests"
WRITE = {"X-API-Key": KEY}
MODELS = ("summaries", "earthsig:model")


@pytest.fixture(scope="module")
def served(module_pgstac_dsn: str) -> Iterator[tuple[str, str]]:
    """(API URL, database DSN), writes on."""
    env = {**libpq_env(module_pgstac_dsn), "ENABLE_TRANSACTIONS_EXTENSIONS": "true",
           "EARTHSIG_API_KEYS": KEY}
    with uvicorn_server(FACTORY, env, health_path=HEALTH_PATH) as url:
        yield url, module_pgstac_dsn


def _item(product: Product, collection_id: str, model: str, item_id: str | None = None,
          later_days: int = 0) -> dict[str, Any]:
    """``product``'s landcover item, of ``model``, in ``collection_id``."""
    item = landcover_item(product).to_dict(include_self_link=False)
    item["id"] = item_id or f"{product.tile}-{model.replace(':', '-v')}"
    item["collection"] = collection_id
    item["properties"]["earthsig:model"] = model
    sensed = product.sensed + timedelta(days=later_days)
    item["properties"]["datetime"] = sensed.isoformat().replace("+00:00", "Z")
    return item


def _registered(dsn: str, collection_id: str, items: list[dict[str, Any]], *,
                summarise_models: bool = True) -> None:
    """A collection and its items as the pipeline leaves them."""
    collection = landcover_collection()
    collection.id = collection_id
    definition = CollectionDefinition(collection, summarise_models=summarise_models)
    settings = IngestSettings(_env_file=None)  # no tile store
    for item in items:
        assert upsert_item(pystac.Item.from_dict(item), definition, dsn, settings)


def _collection(api: str, collection_id: str) -> dict[str, Any]:
    response = httpx.get(f"{api}/collections/{collection_id}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _models(api: str, collection_id: str) -> list[str] | None:
    return _collection(api, collection_id).get(MODELS[0], {}).get(MODELS[1])


def _union(*boxes: list[float]) -> list[float]:
    return [min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes)]


def _when(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["properties"]["datetime"])


def _interval(collection: dict[str, Any]) -> list[datetime]:
    [interval] = collection["extent"]["temporal"]["interval"]
    return [datetime.fromisoformat(t) for t in interval]


def test_a_new_version_posted_through_the_api_is_summarised_and_in_the_extent(
    served: tuple[str, str]
) -> None:
    api, dsn = served
    first = _item(MONTPELLIER, "posted", "clc-unet:1")
    _registered(dsn, "posted", [first])
    before = _collection(api, "posted")
    assert before["summaries"]["earthsig:model"] == ["clc-unet:1"]
    assert before["extent"]["spatial"]["bbox"] == [pytest.approx(first["bbox"])]

    # Another tile, a month later, of a version the pipeline never registered.
    second = _item(PROVENCE, "posted", "clc-unet:2")
    created = httpx.post(f"{api}/collections/posted/items", json=second, headers=WRITE)
    assert created.status_code == 201, created.text

    after = _collection(api, "posted")
    assert after["summaries"]["earthsig:model"] == ["clc-unet:1", "clc-unet:2"]
    assert after["extent"]["spatial"]["bbox"] == [
        pytest.approx(_union(first["bbox"], second["bbox"]))]
    assert _interval(after) == [_when(first), _when(second)]
    # The rest of the document is the collection's own.
    assert after["summaries"]["classification:classes"] == \
        before["summaries"]["classification:classes"]


def test_deleting_a_versions_last_item_drops_it_from_the_summary(
    served: tuple[str, str]
) -> None:
    api, dsn = served
    v1 = _item(MONTPELLIER, "deleted", "clc-unet:1")
    v2 = [_item(PROVENCE, "deleted", "clc-unet:2", f"v2-{n}", later_days=n) for n in (0, 1)]
    _registered(dsn, "deleted", [v1, *v2])
    assert _models(api, "deleted") == ["clc-unet:1", "clc-unet:2"]

    url = f"{api}/collections/deleted/items"
    assert httpx.delete(f"{url}/v2-0", headers=WRITE).status_code == 200
    assert _models(api, "deleted") == ["clc-unet:1", "clc-unet:2"]  # v2-1 is left
    assert _interval(_collection(api, "deleted"))[1] == _when(v2[1])

    assert httpx.delete(f"{url}/v2-1", headers=WRITE).status_code == 200
    after = _collection(api, "deleted")
    assert after["summaries"]["earthsig:model"] == ["clc-unet:1"]
    assert _interval(after) == [_when(v1), _when(v1)]
    assert after["extent"]["spatial"]["bbox"] == [pytest.approx(v1["bbox"])]


def test_deleting_every_item_leaves_no_model_and_the_last_extent(
    served: tuple[str, str]
) -> None:
    api, dsn = served
    items = [_item(MONTPELLIER, "emptied", "clc-unet:1"), _item(PROVENCE, "emptied", "clc-unet:2")]
    _registered(dsn, "emptied", items)
    url = f"{api}/collections/emptied/items"

    assert httpx.delete(f"{url}/{items[1]['id']}", headers=WRITE).status_code == 200
    last = _collection(api, "emptied")
    assert last["summaries"]["earthsig:model"] == ["clc-unet:1"]
    assert _interval(last) == [_when(items[0]), _when(items[0])]
    assert httpx.delete(f"{url}/{items[0]['id']}", headers=WRITE).status_code == 200

    after = _collection(api, "emptied")
    # No model: STAC allows no empty summary, so none; the tiler reads that as no model.
    assert "earthsig:model" not in after["summaries"]
    with ConnectionPool(dsn, min_size=1, max_size=1, open=True) as pool:
        assert registered_models(pool, "emptied") == []
    # pgstac computes no extent from no item: the collection keeps its last.
    assert after["extent"] == last["extent"]
    # Valid STAC 1.1 (the core schema: pystac-core's copy, offline).
    assert pystac.Collection.from_dict(after).validate(CoreOnlyValidator())

    # The collection still summarises its models: the next item written lists its own.
    again = _item(PROVENCE, "emptied", "clc-unet:3")
    assert httpx.post(url, json=again, headers=WRITE).status_code == 201
    assert _models(api, "emptied") == ["clc-unet:3"]
    assert _collection(api, "emptied")["extent"]["spatial"]["bbox"] == [
        pytest.approx(again["bbox"])]


def test_updates_patches_and_bulk_writes_are_summarised(served: tuple[str, str]) -> None:
    api, dsn = served
    item = _item(MONTPELLIER, "rewritten", "clc-unet:1", "rewritten")
    _registered(dsn, "rewritten", [item])
    url = f"{api}/collections/rewritten"

    patched = httpx.patch(f"{url}/items/rewritten", headers=WRITE,
                          json={"properties": {"earthsig:model": "clc-unet:3"}})
    assert patched.status_code == 200, patched.text
    assert _models(api, "rewritten") == ["clc-unet:3"]

    bulk = {"method": "insert",
            "items": {"bulk": _item(PROVENCE, "rewritten", "clc-unet:4", "bulk")}}
    inserted = httpx.post(f"{url}/bulk_items", json=bulk, headers=WRITE)
    assert inserted.status_code == 200, inserted.text
    assert _models(api, "rewritten") == ["clc-unet:3", "clc-unet:4"]

    put = httpx.put(f"{url}/items/rewritten", json=item, headers=WRITE)
    assert put.status_code == 200, put.text
    assert _models(api, "rewritten") == ["clc-unet:1", "clc-unet:4"]

    several = {"type": "FeatureCollection", "features": [
        _item(MONTPELLIER, "rewritten", "clc-dynamicworld:1", later_days=40)]}
    assert httpx.post(f"{url}/items", json=several, headers=WRITE).status_code == 201
    assert _models(api, "rewritten") == ["clc-dynamicworld:1", "clc-unet:1", "clc-unet:4"]


def test_a_collection_without_a_models_summary_gets_none(served: tuple[str, str]) -> None:
    """A collection the pipeline does not summarise (the derived ones): API writes refresh its
    extent and leave its summaries as they are."""
    api, dsn = served
    first = _item(MONTPELLIER, "unsummarised", "clc-unet:1")
    _registered(dsn, "unsummarised", [first], summarise_models=False)
    second = _item(PROVENCE, "unsummarised", "clc-unet:2")
    created = httpx.post(f"{api}/collections/unsummarised/items", json=second, headers=WRITE)
    assert created.status_code == 201, created.text
    after = _collection(api, "unsummarised")
    assert "earthsig:model" not in after["summaries"]
    assert after["extent"]["spatial"]["bbox"] == [
        pytest.approx(_union(first["bbox"], second["bbox"]))]


def test_a_collection_written_through_the_api_is_refreshed_too(served: tuple[str, str]) -> None:
    """A collection document put back with a stale extent and models (a client's old copy)
    gets its items' again; deleting the collection refreshes nothing and succeeds."""
    api, dsn = served
    item = _item(MONTPELLIER, "put-back", "clc-unet:1")
    _registered(dsn, "put-back", [item])
    stale = _collection(api, "put-back")
    stale["links"] = []
    stale["summaries"]["earthsig:model"] = ["clc-unet:0"]
    stale["extent"] = landcover_collection().extent.to_dict()
    put = httpx.put(f"{api}/collections/put-back", json=stale, headers=WRITE)
    assert put.status_code == 200, put.text
    after = _collection(api, "put-back")
    assert after["summaries"]["earthsig:model"] == ["clc-unet:1"]
    assert after["extent"]["spatial"]["bbox"] == [pytest.approx(item["bbox"])]
    deleted = httpx.delete(f"{api}/collections/put-back", headers=WRITE)
    assert deleted.status_code == 200, deleted.text
    assert httpx.get(f"{api}/collections/put-back").status_code == 404


def test_concurrent_writers_all_succeed_and_the_summary_holds_every_version(
    served: tuple[str, str]
) -> None:
    """API writes creating and emptying month partitions at once, beside pipeline
    registrations to the same collection: none fails, and the summary is that of the items
    left."""
    api, dsn = served
    _registered(dsn, "busy", [_item(MONTPELLIER, "busy", "clc-unet:1", "seed")])
    # Month after month: each write creates its own partition (pgstac's ALTER TABLE).
    posted = [_item(PROVENCE, "busy", f"clc-unet:{10 + n}", f"api-{n}", later_days=31 * n)
              for n in range(8)]
    registered = [_item(MONTPELLIER, "busy", f"clc-spectral:{n}", f"pipeline-{n}",
                        later_days=31 * n + 15) for n in range(4)]

    def post(item: dict[str, Any]) -> int:
        with httpx.Client(timeout=120) as client:
            status = client.post(f"{api}/collections/busy/items", json=item,
                                 headers=WRITE).status_code
            if item["id"] in ("api-0", "api-1"):  # written, then deleted by the same writer
                status = client.delete(f"{api}/collections/busy/items/{item['id']}",
                                       headers=WRITE).status_code
            return status

    def register(item: dict[str, Any]) -> int:
        _registered(dsn, "busy", [item])
        return 200

    with ThreadPoolExecutor(max_workers=len(posted) + len(registered)) as pool:
        futures = [pool.submit(post, item) for item in posted]
        futures += [pool.submit(register, item) for item in registered]
        statuses = [f.result() for f in futures]

    assert all(200 <= s < 300 for s in statuses), statuses
    expected = sorted({"clc-unet:1", *(f"clc-unet:{10 + n}" for n in range(2, 8)),
                       *(f"clc-spectral:{n}" for n in range(4))})
    assert _models(api, "busy") == expected
    found = httpx.get(f"{api}/collections/busy/items", params={"limit": 100}, timeout=30).json()
    assert len(found["features"]) == 1 + 6 + 4
    assert _interval(_collection(api, "busy"))[1] == _when(posted[-1])


def test_a_refused_write_changes_nothing(served: tuple[str, str]) -> None:
    api, dsn = served
    item = _item(MONTPELLIER, "refused", "clc-unet:1", "refused")
    _registered(dsn, "refused", [item])
    before = _collection(api, "refused")
    # The same id again: pgstac refuses it (409); nothing was written, nothing refreshed.
    again = httpx.post(f"{api}/collections/refused/items",
                       json={**item, "properties": {**item["properties"],
                                                    "earthsig:model": "clc-unet:9"}},
                       headers=WRITE)
    assert again.status_code == 409, again.text
    assert _collection(api, "refused") == before
