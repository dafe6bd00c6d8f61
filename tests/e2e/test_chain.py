"""The walking skeleton end to end on real services.

A generated product is queued with ``earthsig process --wait``, processed by a real RQ worker
process, registered in pgstac, found through the STAC API (pystac-client) and rendered by the
tiler in CLC colours where the ground truth says water and forest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pystac
import pytest
from pystac_client import Client
from redis import Redis
from rio_cogeo.cogeo import cog_validate
from rq.job import Job
from shapely.geometry import shape

from catalog_schemas import clc
from catalog_schemas.validation import validate_item
from infra.endpoints import endpoints
from infra.postgres import libpq_env
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.stages import Stage
from samples import make_sample_product
from tests.models import built
from tests.servers import uvicorn_server
from tests.spots import interior_spot
from tests.tiles import colour_at, decode_png, rgba_at, tile_of, tile_url
from tests.workers import stop_workers

WORKER_NAME = "e2e-worker"


@dataclass
class Chain:
    product: pystac.Item
    product_path: Path
    item_id: str
    env: dict[str, str]
    api: str
    tiler: str


def _earthsig(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, module_pgstac_dsn: str,
          module_redis_url: str) -> Iterator[Chain]:
    home = tmp_path_factory.mktemp("home")
    path = make_sample_product("T31TCJ", date(2024, 7, 1), 1024, home / "samples", seed=11)
    env = {**libpq_env(module_pgstac_dsn), "EARTHSIG_REDIS_URL": module_redis_url,
           "EARTHSIG_HOME": str(home),
           "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(built(home / "m")),
           "EARTHSIG_TILE_STORE_URL": module_redis_url}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as tiler:
        worker_log = (home / "worker.log").open("wb")
        # The worker draws each published product's tiles ahead on the tiler.
        worker = subprocess.Popen([sys.executable, "-m", "infra", "worker", "--name",
                                   WORKER_NAME],
                                  env={**os.environ, **env, "EARTHSIG_SEED_TILER_URL": tiler},
                                  stdout=worker_log, stderr=subprocess.STDOUT)
        try:
            done = _earthsig(env, "process", str(path), "--wait")
            assert done.returncode == 0, done.stderr + (home / "worker.log").read_text()
            item_id = done.stdout.strip().splitlines()[-1]
            with uvicorn_server("stac_api.app:create_app", env) as api:
                yield Chain(pystac.Item.from_file(str(path)), path, item_id, env, api, tiler)
        finally:
            stop_workers([worker])
            worker_log.close()


def test_item_served_by_the_api_matches_the_product(chain: Chain) -> None:
    client = Client.open(chain.api)
    found = list(client.search(collections=["landcover"], bbox=chain.product.bbox,
                               datetime="2024-07-01/2024-07-02").items())
    assert [i.id for i in found] == [chain.item_id]
    item = found[0]
    assert shape(item.geometry).equals_exact(shape(chain.product.geometry), 1e-9)
    assert item.datetime == chain.product.datetime
    assert set(item.assets) == {"landcover", "confidence", "cloudmask", "polygons", "thumbnail"}
    validate_item(item.to_dict())
    cog = item.assets["landcover"].href
    assert cog_validate(cog, quiet=True)[0]
    # Outside the footprint or the dates, nothing.
    assert not list(client.search(bbox=[10, 50, 11, 51]).items())
    assert not list(client.search(datetime="2024-08-01/2024-08-31").items())


def test_job_ran_in_a_separate_worker_process(chain: Chain) -> None:
    connection = Redis.from_url(chain.env["EARTHSIG_REDIS_URL"])
    job = Job.fetch(ChainIds.of(chain.product.id, "clc-spectral:1").job_id(Stage.PUBLISH),
                    connection=connection)
    assert job.worker_name == WORKER_NAME
    assert job.return_value()["worker_pid"] != os.getpid()
    assert job.return_value()["item_id"] == chain.item_id


@pytest.mark.parametrize(("clc_code", "zoom"), [(512, 14), (311, 14), (512, 12)])
def test_tiles_show_ground_truth_in_clc_colours(chain: Chain, clc_code: int, zoom: int) -> None:
    spot = interior_spot(chain.product_path.parent / "truth_landcover.tif",
                         clc.grid_code_of(clc_code), margin=40)
    xyz = endpoints(chain.api, chain.tiler)["xyz"]
    assert colour_at(xyz, spot, zoom) == (*clc.by_clc_code(clc_code).rgb, 255)


def test_published_tiles_were_drawn_ahead_and_redrawn_after_a_change(chain: Chain) -> None:
    spot = interior_spot(chain.product_path.parent / "truth_landcover.tif",
                         clc.grid_code_of(512), margin=40)
    tile = tile_of(spot, 11)  # seeded zooms: 8-12 (item), 8-11 (mosaic)
    xyz = tile_url(endpoints(chain.api, chain.tiler)["xyz"], tile)
    first = httpx.get(xyz, timeout=30)
    assert first.status_code == 200 and first.headers["x-tile-cache"] == "hit"
    assert rgba_at(decode_png(first.content), tile, spot) == (*clc.by_clc_code(512).rgb, 255)
    item_tile = tile_url(f"{chain.tiler}/collections/landcover/items/{chain.item_id}/tiles/"
                         "WebMercatorQuad/{z}/{x}/{y}.png", tile_of(spot, 12))
    assert httpx.get(item_tile, timeout=30).headers["x-tile-cache"] == "hit"
    # A registration (the same product processed again) marks its tiles: drawn again.
    redis = Redis.from_url(chain.env["EARTHSIG_REDIS_URL"])
    [catalog_key] = redis.keys("earthsig:tiles:*:catalog")  # marked by the first registration
    item_key = catalog_key.replace(b":catalog", f":item:landcover/{chain.item_id}".encode())
    before = redis.mget([catalog_key, item_key])
    done = _earthsig(chain.env, "process", str(chain.product_path), "--wait", "--force")
    assert done.returncode == 0, done.stderr
    after = redis.mget([catalog_key, item_key])
    assert after[1] is not None and after != before
    again = httpx.get(xyz, timeout=30)
    assert again.headers["x-tile-cache"] == "hit"  # re-seeded after the new registration
    assert again.content == first.content


def test_second_run_leaves_one_item(chain: Chain) -> None:
    done = _earthsig(chain.env, "process", str(chain.product_path), "--wait")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == chain.item_id
    body = httpx.get(f"{chain.api}/collections/landcover/items", timeout=30).json()
    assert [f["id"] for f in body["features"]] == [chain.item_id]


def test_failed_job_exits_non_zero_with_the_cause(chain: Chain, tmp_path: Path) -> None:
    item = chain.product.clone()
    item.make_asset_hrefs_absolute()
    item.id = f"{item.id}-BROKEN"
    item.assets["red"].href = str(tmp_path / "missing-B04.tif")
    broken = tmp_path / "broken.json"
    item.save_object(dest_href=str(broken), include_self_link=False)
    done = _earthsig(chain.env, "process", str(broken), "--wait")
    assert done.returncode != 0
    assert "failed" in done.stderr and "B04" in done.stderr
