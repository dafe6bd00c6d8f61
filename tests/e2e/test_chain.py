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
    public_api: str  # the same catalog, answering asset hrefs as the tiler's URLs


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
            with uvicorn_server("stac_api.app:create_app", env) as api, \
                    uvicorn_server("stac_api.app:create_app",
                                   {**env, "EARTHSIG_API_TILER_URL": tiler}) as public_api:
                yield Chain(pystac.Item.from_file(str(path)), path, item_id, env, api, tiler,
                            public_api)
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


def test_every_href_of_the_public_item_answers_over_http(chain: Chain) -> None:
    """Issue 21: from the public API every asset href is a URL that answers (200, ranges
    206) with the type the item declares; the thumbnail is there for QGIS and STAC Browser."""
    [item] = Client.open(chain.public_api).search(ids=[chain.item_id]).items()
    assert item.assets["thumbnail"].roles == ["thumbnail"]
    for key, asset in item.assets.items():
        assert asset.href.startswith(f"{chain.tiler}/assets/"), key
        head = httpx.head(asset.href)
        assert head.status_code == 200, (key, head.status_code)
        assert head.headers["content-type"] == asset.media_type, key
        part = httpx.get(asset.href, headers={"Range": "bytes=0-15"})
        assert part.status_code == 206 and len(part.content) == 16, key
    assert item.assets["landcover"].media_type == \
        "image/tiff; application=geotiff; profile=cloud-optimized"


def test_gdal_stac_driver_opens_a_search_as_a_mosaic(chain: Chain) -> None:
    """GDAL's STACIT driver on the public API's search: the landcover mosaic's pixels are
    the COG's, read over HTTP by a process that is given only the API's URL."""
    import numpy as np
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(chain.product_path.parent / "truth_landcover.tif") as truth:
        west, south, east, north = transform_bounds(truth.crs, "EPSG:4326", *truth.bounds)
    mid_lon, mid_lat = (west + east) / 2, (south + north) / 2
    search = (f"{chain.public_api}/search?collections=landcover&bbox={mid_lon - 0.01},"
              f"{mid_lat - 0.01},{mid_lon + 0.01},{mid_lat + 0.01}")
    code = (
        "import sys, numpy as np, rasterio\n"
        "from rasterio.windows import from_bounds\n"
        f"name = 'STACIT:\"{search}\":asset=landcover'\n"
        "with rasterio.open(name) as m:\n"
        "    data = m.read(1)\n"
        "    np.save(sys.argv[1], data)\n"
        "    print(m.crs.to_epsg(), *m.transform[:6], m.width, m.height)\n"
    )
    out = chain.product_path.parent / "stacit.npy"
    # Another process that has no asset path: only the API URL (and no home folder).
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True,
                          text=True, timeout=120, env={"PATH": os.environ["PATH"],
                                                       "GDAL_HTTP_TIMEOUT": "30"})
    assert done.returncode == 0, done.stderr[-2000:]
    epsg, a, b, c, d, e, f, width, height = done.stdout.split()
    mosaic = np.load(out)
    [item] = Client.open(chain.api).search(ids=[chain.item_id]).items()
    with rasterio.open(item.assets["landcover"].href) as cog:
        assert int(epsg) == cog.crs.to_epsg()
        assert (int(width), int(height)) == (cog.width, cog.height)
        np.testing.assert_array_equal(mosaic, cog.read(1))
    assert len(np.unique(mosaic)) >= 3  # a real map, not one class


def test_every_link_of_the_public_item_resolves(chain: Chain) -> None:
    """Issue 21: no link of a public item is a server path: each answers 200 - the API's own
    (self, parent, collection, root), the model's MLM document served by the tiler, and the
    source product's document only where it has a URL (a local sample product has none, so
    the public item carries no link to it)."""
    item = httpx.get(f"{chain.public_api}/collections/landcover/items/{chain.item_id}").json()
    derived = [ln for ln in item["links"] if ln["rel"] == "derived_from"]
    assert any(ln["href"].startswith(f"{chain.tiler}/models/") for ln in derived), derived
    for link in item["links"]:
        answer = httpx.get(link["href"])
        assert answer.status_code == 200, (link, answer.status_code)
    model = next(ln for ln in derived if "/models/" in ln["href"])
    assert httpx.get(model["href"]).json()["properties"]["mlm:name"]
