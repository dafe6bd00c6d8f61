"""Items written or deleted through the STAC API's transactions redraw the low-zoom pyramid
under them, as a publish does: the API queues the redraw on the pipeline's publish queue and a
real RQ worker draws it through a real tiler (issue 21, point 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from redis import Redis
from rq import Queue

from catalog_schemas import clc
from catalog_schemas.collections import landcover_collection
from ingest.catalog import pyramid_update
from ingest.catalog.pyramid_update import update_pyramid
from stac_api.app import create_app
from stac_api.pyramid_jobs import JOB
from stac_api.settings import AuthSettings, PostgresSettings, PyramidQueueSettings, Settings
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import FOREST, WATER, WATER_SPOT, item_dict, load, write_cog
from tests.tiles import decode_png, tile_of, tile_url

KEY = "pyramid-writes-key"
PREFIX = "pyrw-"
PASTURE = clc.grid_code_of(231)
MOSAIC = "collections/landcover/tiles/WebMercatorQuad/{z}/{x}/{y}.png"


def _rgba(code: int) -> tuple[int, ...]:
    return (*clc.by_grid_code(code).rgb, 255)


def test_the_job_the_api_names_is_the_pipelines() -> None:
    """The API names the job as a string (serving never imports the pipeline): the name must
    be the function's."""
    assert f"{pyramid_update.__name__}.{pyramid_update.redraw_after_write.__name__}" == JOB


@pytest.fixture
def tiler(pg_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    store = tmp_path / "store"
    store.mkdir()
    env = {**pg_env, "EARTHSIG_TILER_ASSET_ROOTS": str(tmp_path),
           "EARTHSIG_ASSET_ROOT": str(store)}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        yield url, store


def test_api_writes_redraw_the_low_zooms(tiler: tuple[str, Path], pgstac_dsn: str,
                                          pg_env: dict[str, str], redis_url: str,
                                          tmp_path: Path) -> None:
    url, store = tiler
    first = item_dict(write_cog(tmp_path / "first.tif", WATER, FOREST), "first",
                      datetime(2024, 6, 1, 10, 46, tzinfo=UTC))
    load(pgstac_dsn, [landcover_collection().to_dict()], [first])
    assert update_pyramid(first, url, store) > 0  # the pipeline's publish built the pyramid

    def z5_colours() -> set[tuple[int, ...]]:
        answer = httpx.get(tile_url(f"{url}/{MOSAIC}", tile_of(WATER_SPOT, 5)),
                           headers={"Cache-Control": "no-cache"}, timeout=30)
        assert answer.status_code == 200 and answer.headers["x-pyramid"] == "tile"
        return {tuple(int(v) for v in c)
                for c in np.unique(decode_png(answer.content).reshape(4, -1).T, axis=0)}

    def run_worker() -> None:
        env = {**os.environ, **pg_env, "EARTHSIG_REDIS_URL": redis_url,
               "EARTHSIG_QUEUE_PREFIX": PREFIX, "EARTHSIG_SEED_TILER_URL": url,
               "EARTHSIG_ASSET_ROOT": str(store)}
        done = subprocess.run([sys.executable, "-m", "infra", "worker", "--queues", "publish",
                               "--burst"], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "redrawn after a write through the API" in done.stderr, done.stderr[-2000:]

    assert _rgba(WATER) in z5_colours()
    pg = PostgresSettings(_env_file=None, **{k.lower(): v for k, v in pg_env.items()})
    queueing = PyramidQueueSettings(_env_file=None, redis_url=redis_url, queue_prefix=PREFIX)
    app = create_app(Settings(_env_file=None, enable_transactions_extensions=True), pg,
                     auth=AuthSettings(_env_file=None, keys=[KEY]), pyramid=queueing)
    queue = Queue(f"{PREFIX}publish", connection=Redis.from_url(redis_url))
    newer = item_dict(write_cog(tmp_path / "newer.tif", PASTURE, FOREST), "newer",
                      datetime(2024, 6, 2, 10, 46, tzinfo=UTC))
    with TestClient(app) as api:
        created = api.post("/collections/landcover/items", json=newer,
                           headers={"X-API-Key": KEY})
        assert created.status_code in (200, 201), created.text
        assert len(queue) == 1 and queue.jobs[0].func_name == JOB
        assert _rgba(WATER) in z5_colours()  # not redrawn until a worker takes the job
        run_worker()
        after_create = z5_colours()
        assert _rgba(PASTURE) in after_create and _rgba(WATER) not in after_create

        deleted = api.delete("/collections/landcover/items/newer", headers={"X-API-Key": KEY})
        assert deleted.status_code in (200, 204), deleted.text
        assert len(queue) == 1
        run_worker()
        after_delete = z5_colours()  # the older product shows through again
        assert _rgba(WATER) in after_delete and _rgba(PASTURE) not in after_delete


def test_a_write_without_a_queue_queues_nothing(pg_env: dict[str, str],
                                                redis_url: str) -> None:
    """No broker set (the API alone): writes succeed and nothing is queued."""
    assert PyramidQueueSettings(_env_file=None).publish_queue() is None
    assert PyramidQueueSettings(_env_file=None, redis_url=redis_url,
                                low_zoom_pyramid=False).publish_queue() is None
    assert PyramidQueueSettings(_env_file=None, redis_url=redis_url,
                                queue_prefix="a-").publish_queue() == "a-publish"
