"""Daily discovery runs that miss nothing, on real services: EODAG against two local STAC APIs
over HTTP (``flaky_stac``: one can be switched into an outage answering 500), real Redis and
RQ (the queue, the run log), real pgstac (what is published).

Sensing days are those of July 2024; a run is told the last day of its window (``end``), as
the scheduler's job computes it from the clock. Both providers ignore the search geometry (a
careless provider, as in ``test_discovery_aoi``), so a product in America reaches discovery and
must be dropped by it, with its reason.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job

from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from ingest.discovery import DiscoveryError, load_aoi
from ingest.discovery.acquisitions import acquisition_of, one_per_acquisition
from ingest.discovery.daily import run_discovery
from ingest.discovery.providers import providers_in_order
from ingest.discovery.runs import (
    CLOUDY,
    DUPLICATE,
    IN_QUEUE,
    OUTSIDE_AOI,
    PUBLISHED,
    QUEUED,
    DiscoveryRunRecord,
    last_runs,
    run_decisions,
    run_totals,
    window_start,
)
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.stages import DISCOVER_QUEUE, Stage
from ingest.pipeline import process_product
from ingest.readers import load_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.eodag_provider import LocalStac, eodag_environment, eodag_gateway
from tests.models import built
from tests.servers import uvicorn_server

DAY = dt.date(2024, 7, 1)


@dataclass
class Provider:
    name: str
    root: Path
    base: str = ""

    def l2a(self, tile: str, day: dt.date, *, baseline: str = "05.10", sequence: int = 0,
            cloud_cover: float = 0.0) -> str:
        """Publish an L2A COG product (earth-search's id: ``_<sequence>_L2A``, raised by each
        reprocessing); return its id."""
        out = self.root / "files" / f"n{baseline.replace('.', '')}"
        product = make_sample_product(tile, day, 64, out, baseline=baseline,
                                      cloud_cover=cloud_cover)
        item = json.loads(product.read_text())
        item["id"] = item["id"].replace("_0_L2A", f"_{sequence}_L2A")
        for asset in item["assets"].values():
            asset["href"] = f"{out.name}/{product.parent.name}/" \
                            f"{asset['href'].removeprefix('./')}"
        (self.root / "items" / "sentinel-2-l2a" / f"{item['id']}.json").write_text(
            json.dumps(item))
        return item["id"]

    def l1c(self, tile: str, day: dt.date) -> str:
        """Publish an L1C SAFE zip; return its id."""
        archive = make_sample_product(tile, day, 64, self.root / "files", level="L1C",
                                      layout="safe", as_zip=True)
        item = load_product(str(archive)).to_dict(include_self_link=False)
        item["assets"] = {"product": {"href": archive.name, "type": "application/zip",
                                      "roles": ["data"]}}
        (self.root / "items" / "sentinel-2-l1c" / f"{item['id']}.json").write_text(
            json.dumps(item))
        return item["id"]

    def outage(self, down: bool) -> None:
        flag = self.root / "outage"
        if down:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)

    def failed_searches(self) -> int:
        return int(httpx.get(f"{self.base}/_failed").json())


@dataclass
class World:
    primary: Provider
    backup: Provider
    dag: object
    redis: Redis
    dsn: str
    inference: InferenceSettings
    model: str
    home: Path

    def settings(self, **overrides: object) -> IngestSettings:
        options: dict = {"home": self.home, "discovery_providers": ["primary"],
                         "discovery_lookback_days": 3, "discovery_retry_delays_s": [0.01]}
        return IngestSettings(_env_file=None, **{**options, **overrides})

    def run(self, end: dt.date, **overrides: object) -> DiscoveryRunRecord:
        return run_discovery(self.dag, connection=self.redis, end=end, aoi=load_aoi("europe"),
                             max_cloud=60.0, model_ref=self.model,
                             settings=self.settings(**overrides), dsn=self.dsn,
                             inference=self.inference)

    def decisions(self, record: DiscoveryRunRecord) -> dict[str, tuple[str, str]]:
        return {d.product_id: (d.outcome, d.detail)
                for d in run_decisions(self.redis, record.run_id)}


@pytest.fixture(scope="module")
def inference(tmp_path_factory: pytest.TempPathFactory) -> tuple[InferenceSettings, str]:
    settings = InferenceSettings(_env_file=None,
                                 model_repository=built(tmp_path_factory.mktemp("models")))
    return settings, ModelRepository.from_settings(settings).resolve(
        settings.default_model).spec.ref


@pytest.fixture
def world(tmp_path: Path, redis_url: str, pgstac_dsn: str,
          inference: tuple[InferenceSettings, str]) -> Iterator[World]:
    providers = [Provider("primary", tmp_path / "primary"), Provider("backup", tmp_path / "b")]
    for provider in providers:
        for collection in ("sentinel-2-l2a", "sentinel-2-l1c"):
            (provider.root / "items" / collection).mkdir(parents=True)
        (provider.root / "files").mkdir()
    with uvicorn_server("tests.ingest.flaky_stac:create_app",
                        {"EARTHSIG_TEST_STAC_ROOT": str(providers[0].root)}) as first, \
            uvicorn_server("tests.ingest.flaky_stac:create_app",
                           {"EARTHSIG_TEST_STAC_ROOT": str(providers[1].root)}) as second:
        providers[0].base, providers[1].base = first, second
        environment = eodag_environment(tmp_path / "eodag", [
            LocalStac(p.name, p.base, priority)
            for p, priority in zip(providers, (2, 1), strict=True)])
        with eodag_gateway(environment) as dag:
            yield World(primary=providers[0], backup=providers[1], dag=dag,
                        redis=Redis.from_url(redis_url), dsn=pgstac_dsn,
                        inference=inference[0], model=inference[1], home=tmp_path / "home")


def _queued_chain(world: World, product_id: str) -> Job:
    return Job.fetch(ChainIds.of(product_id, world.model).job_id(Stage.FETCH),
                     connection=world.redis)


def test_the_look_back_window_catches_a_product_published_two_days_late(world: World) -> None:
    on_time = world.primary.l2a("31TCJ", DAY)
    first = world.run(DAY)
    assert first.ok and first.queued == 1 and first.window == ("2024-06-29", "2024-07-01")
    assert world.decisions(first) == {on_time: (QUEUED, ChainIds.of(on_time, world.model).last)}
    # Sensed on DAY, in the provider's catalog two days later: yesterday's-only would miss it.
    late = world.primary.l2a("31TDJ", DAY)
    second = world.run(DAY + dt.timedelta(days=2))
    # Three days back from DAY+2, and DAY-1 that the (missed) run of DAY+1 would have seen.
    assert second.window == ("2024-06-30", "2024-07-03")
    assert second.found == 2 and second.queued == 1
    decisions = world.decisions(second)
    assert decisions[late][0] == QUEUED
    # The first product's chain is still queued (no worker here): not queued a second time.
    chain = _queued_chain(world, on_time)
    assert chain.get_status() == "queued"
    assert decisions[on_time] == (IN_QUEUE, chain.id)
    assert second.skipped == {IN_QUEUE: 1}
    assert [r.run_id for r in last_runs(world.redis)] == [second.run_id, first.run_id]


def test_l2a_is_chosen_over_l1c_and_the_newest_baseline_over_older(world: World) -> None:
    old = world.primary.l2a("31TCJ", DAY, baseline="05.09")
    newest = world.primary.l2a("31TCJ", DAY, baseline="05.11", sequence=2)
    middle = world.primary.l2a("31TCJ", DAY, baseline="05.10", sequence=1)
    l1c = world.primary.l1c("31TCJ", DAY)
    only_l1c = world.primary.l1c("31TDJ", DAY)  # no L2A of this one: its L1C is processed
    run = world.run(DAY)
    decisions = world.decisions(run)
    assert decisions == {old: (DUPLICATE, f"chose {newest}"),
                         middle: (DUPLICATE, f"chose {newest}"),
                         l1c: (DUPLICATE, f"chose {newest}"),
                         newest: (QUEUED, ChainIds.of(newest, world.model).last),
                         only_l1c: (QUEUED, ChainIds.of(only_l1c, world.model).last)}
    assert run.found == 5 and run.queued == 2 and run.skipped == {DUPLICATE: 3}
    # What is queued: the newest L2A by its item URL, the L1C as EODAG's description.
    source = _queued_chain(world, newest).args[0]
    assert source["href"] == f"{world.primary.base}/collections/sentinel-2-l2a/items/{newest}"
    assert _queued_chain(world, only_l1c).args[0]["eodag"]["id"] == only_l1c
    for product in (old, middle, l1c):
        assert not Job.exists(ChainIds.of(product, world.model).job_id(Stage.FETCH),
                              connection=world.redis)


def test_published_cloudy_and_outside_products_are_skipped_with_their_reasons(
        world: World, tmp_path: Path) -> None:
    published = world.primary.l2a("31TCJ", DAY)
    cloudy = world.primary.l2a("33UUP", DAY, cloud_cover=90)
    america = world.primary.l2a("18TWL", DAY)
    item = f"{world.primary.base}/collections/sentinel-2-l2a/items/{published}"
    process_product(item, ingest=IngestSettings(_env_file=None, home=tmp_path / "p"),
                    inference=world.inference, dsn=world.dsn)
    run = world.run(DAY)
    decisions = world.decisions(run)
    assert decisions[published] == (PUBLISHED, "")
    assert decisions[cloudy][0] == CLOUDY and decisions[cloudy][1].endswith("> 60 %")
    assert decisions[america] == (OUTSIDE_AOI, "")
    assert run.queued == 0 and run.skipped == {PUBLISHED: 1, CLOUDY: 1, OUTSIDE_AOI: 1}

    # The provider reprocesses it: a newer baseline of a published acquisition, another id.
    reprocessed = world.primary.l2a("31TCJ", DAY, baseline="05.11", sequence=1)
    again = world.decisions(world.run(DAY))
    assert again[reprocessed] == (PUBLISHED, f"as {published}")  # the default policy
    assert again[published] == (DUPLICATE, f"chose {reprocessed}")
    policy = world.run(DAY, discovery_requeue_reprocessed=True)
    assert world.decisions(policy)[reprocessed][0] == QUEUED and policy.queued == 1


def test_a_provider_outage_is_a_failed_run_and_the_next_run_catches_up(world: World) -> None:
    first = world.primary.l2a("31TCJ", DAY)
    assert world.run(DAY, discovery_lookback_days=2).queued == 1
    world.primary.outage(True)
    late = world.primary.l2a("31TDJ", DAY)  # sensed on DAY, published during the outage
    for day in (1, 2):
        with pytest.raises(DiscoveryError, match="every provider failed: primary"):
            world.run(DAY + dt.timedelta(days=day), discovery_lookback_days=2,
                      discovery_search_attempts=3)
    assert world.primary.failed_searches() == 6  # 3 attempts a run: retried, then given up
    failed = last_runs(world.redis, 1)[0]
    assert failed.status == "failed" and failed.queued == 0 and failed.found == 0
    assert [a.ok for a in failed.attempts] == [False] * 3
    assert "search back end down" in failed.error or "500" in failed.error
    assert run_totals(world.redis) == {"ok": 1, "failed": 2}

    world.primary.outage(False)
    # Two days back would start on DAY+2: the window reaches back to what the failed runs
    # would have looked at, so the product sensed on DAY is found.
    caught = world.run(DAY + dt.timedelta(days=3), discovery_lookback_days=2)
    assert caught.ok and caught.window == ("2024-07-01", "2024-07-04")
    decisions = world.decisions(caught)
    assert decisions[late][0] == QUEUED and decisions[first][0] == IN_QUEUE
    assert run_totals(world.redis) == {"ok": 2, "failed": 2}


def test_failover_to_the_next_provider(world: World) -> None:
    for provider in (world.primary, world.backup):
        product = provider.l2a("31TCJ", DAY)
    world.primary.outage(True)
    run = world.run(DAY, discovery_providers=["primary", "backup"],
                    discovery_search_attempts=2)
    assert run.ok and run.provider == "backup"
    assert [(a.provider, a.ok) for a in run.attempts] == [
        ("primary", False), ("primary", False), ("backup", True)]
    assert world.decisions(run) == {product: (QUEUED, ChainIds.of(product, world.model).last)}
    source = _queued_chain(world, product).args[0]
    assert source["href"].startswith(world.backup.base)
    # "*": EODAG's providers by its priority (primary 2, backup 1).
    assert providers_in_order(world.dag, ["*"], ["L2A"]) == ["primary", "backup"]
    assert providers_in_order(world.dag, ["backup", "*"], ["L2A"]) == ["backup", "primary"]
    world.primary.outage(False)
    assert world.run(DAY, discovery_providers=["*"]).provider == "primary"


def test_the_window_after_failed_runs() -> None:
    end = DAY + dt.timedelta(days=10)
    assert window_start(end, 4, end - dt.timedelta(days=1), 30) == end - dt.timedelta(days=3)
    assert window_start(end, 4, None, 30) == end - dt.timedelta(days=3)
    # Last success 5 days ago: the four missed runs looked down to its end - 2.
    assert window_start(end, 4, end - dt.timedelta(days=5), 30) == end - dt.timedelta(days=7)
    assert window_start(end, 4, end - dt.timedelta(days=100), 30) == end - dt.timedelta(days=29)


def test_acquisitions_across_id_forms() -> None:
    """The SAFE names of one pass (L1C and two L2A baselines) and earth-search's id of it."""
    when = {"datetime": "2024-07-01T10:56:12Z"}
    products = {
        "S2A_MSIL1C_20240701T105031_N0510_R051_T31TCJ_20240701T113000": {
            "datetime": "2024-07-01T10:50:31Z"},  # the datatake start: minutes apart
        "S2A_MSIL2A_20240701T105031_N0510_R051_T31TCJ_20240701T135516": when,
        "S2A_MSIL2A_20240701T105031_N0511_R051_T31TCJ_20241101T090000": when,
        "S2A_31TCJ_20240701_0_L2A": {**when, "s2:processing_baseline": "05.10"},
        "S2B_31TCJ_20240701_0_L2A": when,  # another satellite: another acquisition
        "S2A_31TCJ_20240711_0_L2A": {"datetime": "2024-07-11T10:56:12Z"},
    }
    choices = one_per_acquisition(
        (i, acquisition_of(i, p)) for i, p in products.items())
    assert {c.chosen: set(c.superseded) for c in choices} == {
        "S2A_MSIL2A_20240701T105031_N0511_R051_T31TCJ_20241101T090000": {
            "S2A_MSIL1C_20240701T105031_N0510_R051_T31TCJ_20240701T113000",
            "S2A_MSIL2A_20240701T105031_N0510_R051_T31TCJ_20240701T135516",
            "S2A_31TCJ_20240701_0_L2A"},
        "S2B_31TCJ_20240701_0_L2A": set(), "S2A_31TCJ_20240711_0_L2A": set()}
    assert acquisition_of("no-such-name", {}) is None


def test_the_schedulers_job_logs_its_runs(world: World, redis_url: str, pg_env: dict[str, str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``daily_discovery`` on the ``discover`` queue, run by an RQ worker, configured from the
    environment only (as the scheduler's job is): a good run, then one with every provider
    down, which fails the job and is logged as failed."""
    product = world.backup.l2a("31TCJ", DAY)
    for key, value in {**pg_env, "EARTHSIG_REDIS_URL": redis_url,
                       "EARTHSIG_HOME": str(world.home),
                       "EARTHSIG_INFERENCE_MODEL_REPOSITORY":
                           str(world.inference.model_repository),
                       "EARTHSIG_DISCOVERY_PROVIDERS": '["primary", "backup"]',
                       "EARTHSIG_DISCOVERY_SEARCH_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(key, value)
    queue = Queue(DISCOVER_QUEUE, connection=world.redis)
    days_back = (dt.datetime.now(dt.UTC).date() - DAY).days
    world.primary.outage(True)
    good = queue.enqueue("ingest.orchestration.operations.daily_discovery", days_back=days_back)
    SimpleWorker([queue], connection=world.redis).work(burst=True)
    assert good.get_status(refresh=True) == "finished", good.latest_result().exc_string
    answer = good.return_value()
    assert answer["provider"] == "backup" and answer["queued"] == 1
    assert answer["window"] == ["2024-06-28", "2024-07-01"]  # the default 4 days
    [logged] = last_runs(world.redis)
    assert logged.run_id == answer["run_id"] and world.decisions(logged) == {
        product: (QUEUED, ChainIds.of(product, world.model).last)}

    world.backup.outage(True)
    bad = queue.enqueue("ingest.orchestration.operations.daily_discovery", days_back=days_back)
    SimpleWorker([queue], connection=world.redis).work(burst=True)
    assert bad.get_status(refresh=True) == "failed"
    assert "every provider failed" in bad.latest_result().exc_string
    assert [r.status for r in last_runs(world.redis)] == ["failed", "ok"]
    assert run_totals(world.redis) == {"ok": 1, "failed": 1}
