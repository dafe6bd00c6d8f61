"""Discovery through real EODAG against a local STAC API serving generated products.

The STAC API (``stac_fixture``) runs in a uvicorn process on 127.0.0.1; EODAG is configured
only through its own files and variables (a providers folder with StacSearch + HTTPDownload
providers, ``EODAG_STRICT_COLLECTIONS`` so it never fetches collection lists from the internet).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job

from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from infra.commands.discover import discover as discover_command
from ingest import pipeline
from ingest.discovery import DiscoveryError, discover, enqueue_candidates, load_aoi
from ingest.discovery.search import search_products
from ingest.fetch import ProductSource, fetch, fetch_product
from ingest.orchestration import jobs
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.queue import enqueue_source
from ingest.orchestration.stages import WORK_ORDER, Stage
from ingest.pipeline import process_product
from ingest.readers import load_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.eodag_provider import LocalStac, eodag_environment, eodag_gateway
from tests.models import built
from tests.servers import uvicorn_server

DAY = dt.date(2024, 7, 1)
EUROPE_CLEAR = ["T31TCJ", "T31TDJ", "T32TLP"]  # on DAY, clear


def _publish(product: Path, root: Path, collection: str) -> str:
    """Put a generated COG product's item into the API's collection; return its id."""
    item = json.loads(product.read_text())
    for asset in item["assets"].values():
        asset["href"] = f"{product.parent.name}/{asset['href'].removeprefix('./')}"
    (root / "items" / collection / product.name).write_text(json.dumps(item))
    return item["id"]


def _publish_zip(archive: Path, root: Path) -> str:
    item = load_product(str(archive)).to_dict(include_self_link=False)
    item["assets"] = {"product": {"href": archive.name, "type": "application/zip",
                                  "roles": ["data"]}}
    (root / "items" / "sentinel-2-l1c" / f"{item['id']}.json").write_text(json.dumps(item))
    return item["id"]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("stac")
    for collection in ("sentinel-2-l2a", "sentinel-2-l1c"):
        (root / "items" / collection).mkdir(parents=True)
    files = root / "files"
    ids: dict[str, str] = {}
    for tile in EUROPE_CLEAR:
        ids[tile] = _publish(make_sample_product(tile, DAY, 64, files), root, "sentinel-2-l2a")
    ids["next-day"] = _publish(make_sample_product("T31TCJ", DAY + dt.timedelta(days=1), 64,
                                                   files), root, "sentinel-2-l2a")
    ids["cloudy"] = _publish(make_sample_product("T33UUP", DAY, 64, files, cloud_cover=90),
                             root, "sentinel-2-l2a")
    ids["america"] = _publish(make_sample_product("T18TWL", DAY, 64, files), root,
                              "sentinel-2-l2a")
    zipped = make_sample_product("T31TCJ", DAY, 64, files, level="L1C", layout="safe",
                                 as_zip=True)
    ids["l1c"] = _publish_zip(zipped, root)
    return {"root": root, "ids": ids, "zip": zipped}


@pytest.fixture(scope="module")
def api(catalog: dict) -> Iterator[str]:
    with uvicorn_server("tests.ingest.stac_fixture:create_app",
                        {"EARTHSIG_TEST_STAC_ROOT": str(catalog["root"])}) as base:
        yield base


@pytest.fixture(scope="module")
def eodag_env(api: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return eodag_environment(tmp_path_factory.mktemp("eodag"), [
        LocalStac(name, api, l2a_collection=l2a, geometry_key="intersects")
        for name, l2a in (("local_stac", "sentinel-2-l2a"), ("broken_stac", "broken"),
                          ("garbage_stac", "garbage"))])


@pytest.fixture(scope="module")
def dag(eodag_env: dict[str, str]):
    with eodag_gateway(eodag_env) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[InferenceSettings, str]:
    settings = InferenceSettings(_env_file=None,
                                 model_repository=built(tmp_path_factory.mktemp("models")))
    return settings, ModelRepository.from_settings(settings).resolve(
        settings.default_model).spec.ref


def _search(dag, **kwargs):
    options = {"start": DAY, "end": DAY, "aoi": load_aoi("europe"), "max_cloud": 60.0,
               "provider": "local_stac", "page_size": 2, **kwargs}
    return search_products(dag, **options)


def test_search_pages_through_every_product_in_the_aoi(dag, catalog: dict, api: str) -> None:
    found = _search(dag)  # 3 products, 2 per page: the second page must be fetched
    ids = catalog["ids"]
    assert sorted(c.id for c in found) == sorted(ids[t] for t in EUROPE_CLEAR)
    for candidate in found:  # not the cloudy one, not the one in America
        assert candidate.streamable and candidate.download_href is None
        assert candidate.item_href == f"{api}/collections/sentinel-2-l2a/items/{candidate.id}"
        assert candidate.cloud_cover == 0.0 and candidate.datetime.startswith("2024-07-01T")
    assert ids["next-day"] in {c.id for c in _search(dag, end=DAY + dt.timedelta(days=1))}
    assert ids["cloudy"] in {c.id for c in _search(dag, max_cloud=100.0)}


def test_provider_errors_are_messages(dag) -> None:
    with pytest.raises(DiscoveryError, match="provider 'broken_stac'.*(502|upstream down)"):
        _search(dag, provider="broken_stac")
    with pytest.raises(DiscoveryError, match="garbage_stac"):
        _search(dag, provider="garbage_stac")
    with pytest.raises(DiscoveryError, match="no_such_provider"):
        _search(dag, provider="no_such_provider")


def test_catalogued_products_are_skipped_and_cogs_read_by_range(
        dag, catalog: dict, api: str, model, pgstac_dsn: str, tmp_path: Path) -> None:
    inference, ref = model
    first = discover(dag, start=DAY, end=DAY, aoi=load_aoi("europe"), max_cloud=60,
                     model_ref=ref, provider="local_stac", dsn=pgstac_dsn)
    assert len(first.new) == 3 and not first.skipped
    done = first.new[0]
    # The product is processed from the provider's item URL: its COGs are read over HTTP.
    process_product(done.item_href, ingest=IngestSettings(_env_file=None, home=tmp_path),
                    inference=inference, dsn=pgstac_dsn)
    again = discover(dag, start=DAY, end=DAY, aoi=load_aoi("europe"), max_cloud=60,
                     model_ref=ref, provider="local_stac", dsn=pgstac_dsn)
    assert [c.id for c in again.skipped] == [done.id]
    assert done.id not in {c.id for c in again.new} and len(again.new) == 2
    other = discover(dag, start=DAY, end=DAY, aoi=load_aoi("europe"), max_cloud=60,
                     model_ref=ref + "0", provider="local_stac", dsn=pgstac_dsn)
    assert not other.skipped  # another model version has not seen it
    reads = [r for r in httpx.get(f"{api}/_requests").json()
             if r["path"].startswith(f"/files/{done.id}/B0") and r["method"] == "GET"]
    assert reads and all(r["range"] and r["range"].startswith("bytes=") for r in reads)


def test_safe_zip_is_downloaded_through_eodag(dag, catalog: dict, tmp_path: Path) -> None:
    [candidate] = _search(dag, level="L1C")
    assert not candidate.streamable and candidate.download_href.endswith(".zip")
    path = fetch_product(candidate.product, tmp_path / "downloads")
    assert path == tmp_path / "downloads" / f"{catalog['ids']['l1c']}.zip"
    assert path.read_bytes() == catalog["zip"].read_bytes()
    assert not list(path.parent.glob(".fetch-*"))  # nothing half-written left
    assert load_product(str(path)).properties["processing:level"] == "L1C"
    assert fetch_product(candidate.product, tmp_path / "downloads") == path  # once only


def test_a_queued_description_is_enough_to_download(dag, catalog: dict, tmp_path: Path) -> None:
    """What discovery queues, through JSON and a gateway of its own (another host's worker)."""
    [candidate] = _search(dag, level="L1C")
    source = ProductSource.from_dict(json.loads(json.dumps(
        ProductSource.of_eodag(candidate.product).as_dict())))
    href = fetch(source, tmp_path / "inputs")
    assert href == str(tmp_path / "inputs" / f"{catalog['ids']['l1c']}.zip")
    assert Path(href).read_bytes() == catalog["zip"].read_bytes()
    # Once there, taken as it is: no gateway, no provider.
    assert fetch(source, tmp_path / "inputs", dag=object()) == href
    readable = ProductSource("x", href="/somewhere/x.json")
    assert fetch(readable, tmp_path / "inputs") == "/somewhere/x.json"
    assert not (tmp_path / "inputs" / "x.zip").exists()
    with pytest.raises(ValueError, match="one of them"):
        ProductSource("x")


def _zip_downloads(api: str, product_id: str) -> int:
    return sum(1 for r in httpx.get(f"{api}/_requests").json()
               if r["method"] == "GET" and r["path"].endswith(f"/{product_id}.zip"))


def _fetch_jobs(connection: Redis) -> dict[str, dict]:
    """Product id -> the source its fetch job was queued with."""
    sources = {}
    for key in connection.scan_iter("rq:job:fetch-*"):
        job = Job.fetch(key.decode().split(":")[2], connection=connection)
        sources[job.args[0]["product_id"]] = job.args[0]
    return sources


def test_enqueue_queues_cogs_by_url_and_zips_undownloaded(
        dag, model, api: str, redis_url: str, pgstac_dsn: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    inference, ref = model
    monkeypatch.setenv("EARTHSIG_INFERENCE_MODEL_REPOSITORY", str(inference.model_repository))
    monkeypatch.setenv("EARTHSIG_HOME", str(tmp_path))
    connection = Redis.from_url(redis_url)
    candidates = [*_search(dag)[:1], *_search(dag, level="L1C")]
    downloads = _zip_downloads(api, candidates[1].id)
    queued = enqueue_candidates(candidates, ref, connection=connection)
    assert [q.product_id for q in queued] == [c.id for c in candidates]
    assert all(Job.exists(q.job_id, connection=connection) for q in queued)
    sources = _fetch_jobs(connection)
    # The COG product by its provider's item URL (read in place) ...
    assert sources[candidates[0].id] == {"product_id": candidates[0].id,
                                         "href": candidates[0].item_href, "eodag": None}
    # ... the zip as EODAG's description of it, for the fetch stage: nothing downloaded yet.
    zipped = sources[candidates[1].id]
    assert zipped["href"] is None and zipped["eodag"]["id"] == candidates[1].id
    assert json.loads(json.dumps(zipped)) == zipped  # plain data, for a worker on any host
    assert _zip_downloads(api, candidates[1].id) == downloads
    assert not list(tmp_path.rglob("*.zip"))


def test_the_fetch_stage_downloads_and_the_infer_stage_reads_what_it_parsed(
        dag, eodag_env: dict[str, str], model, api: str, catalog: dict, redis_url: str,
        pg_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chain of a discovered SAFE zip, run by an in-process worker: the fetch job downloads
    it into the shared inputs folder (once), parses it once, and the infer stage works from
    that item without parsing the product again."""
    inference, ref = model
    shared = tmp_path / "shared-inputs"
    for key, value in {**eodag_env, **pg_env, "EARTHSIG_HOME": str(tmp_path / "home"),
                       "EARTHSIG_INPUTS_ROOT": str(shared),
                       "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(inference.model_repository),
                       # kept after publication, so the forced run finds it there
                       "EARTHSIG_KEEP_INPUTS": "true"}.items():
        monkeypatch.setenv(key, value)
    parses: list[str] = []

    def counted(href: str):  # noqa: ANN202
        parses.append(href)
        return load_product(href)

    def refused(href: str):  # noqa: ANN202
        raise AssertionError(f"the infer stage parsed {href} again")

    monkeypatch.setattr(jobs, "load_product", counted)
    monkeypatch.setattr(pipeline, "load_product", refused)
    connection = Redis.from_url(redis_url)
    [candidate] = _search(dag, level="L1C")
    zipped = shared / f"{candidate.id}.zip"
    downloads = _zip_downloads(api, candidate.id)
    for attempt in range(2):  # the second time, forced: the zip is there already
        [queued] = enqueue_candidates([candidate], ref, connection=connection) if not attempt \
            else [enqueue_source(ProductSource.of_eodag(candidate.product), ref,
                                 connection=connection, force=True)]
        SimpleWorker([Queue(s.value, connection=connection) for s in WORK_ORDER],
                     connection=connection).work(burst=True)
        published = Job.fetch(queued.job_id, connection=connection)
        assert published.get_status() == "finished", (
            Job.fetch(ChainIds.from_job_id(queued.job_id).job_id(Stage.FETCH),
                      connection=connection).latest_result().exc_string)
        assert zipped.read_bytes() == catalog["zip"].read_bytes()
        assert not list(shared.glob(".fetch-*"))
        assert _zip_downloads(api, candidate.id) == downloads + 1  # the first time only
        assert parses == [str(zipped)] * (attempt + 1)  # once per chain, by the fetch stage
        infer = Job.fetch(ChainIds.from_job_id(queued.job_id).job_id(Stage.INFER),
                          connection=connection)
        source = next(link for link in infer.return_value()["item"]["links"]
                      if link["rel"] == "derived_from")
        assert source["href"] == str(zipped)  # read from the shared folder


def test_cli_lists_json(eodag_env: dict[str, str], model, pg_env: dict[str, str],
                        catalog: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    inference, ref = model
    for key, value in {**eodag_env, **pg_env}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EARTHSIG_INFERENCE_MODEL_REPOSITORY", str(inference.model_repository))
    result = CliRunner().invoke(discover_command, ["--date", "2024-07-01", "--end",
                                                   "2024-07-02", "--provider", "local_stac",
                                                   "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["model"] == ref and answer["skipped"] == [] and answer["queued"] == []
    assert len(answer["new"]) == 4
    failed = CliRunner().invoke(discover_command, ["--date", "2024-07-01", "--provider",
                                                   "broken_stac"])
    assert failed.exit_code == 1 and "Error: search on provider 'broken_stac'" in failed.output
    assert "Traceback" not in failed.output
