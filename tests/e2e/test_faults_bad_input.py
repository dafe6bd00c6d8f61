"""Bad products through a real worker (issue 11, item 2): each fails at once with a cause
naming the product and the problem, is never retried, and leaves the worker alive to publish
the good products queued behind it; ``earthsig status`` counts exactly that.

The cases themselves (and the messages in detail) are tests/ingest/test_bad_input.py; here
the point is the worker and the queue around them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rq.job import Job

from ingest.errors import InvalidProductError
from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.queue import JobFailedError, enqueue_product, wait_for
from ingest.orchestration.stages import Stage
from samples import make_sample_product
from tests.e2e.faults import Pipeline, assert_published_once, counts


@pytest.fixture
def pipeline(tmp_path: Path, pgstac_dsn: str, redis_url: str) -> Iterator[Pipeline]:
    p = Pipeline(tmp_path / "home", pgstac_dsn, redis_url)
    p.home.mkdir()
    yield p
    p.stop()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def _truncated_cog(product: Path) -> str:
    _truncate(product.parent / "B04.tif")
    return "band B04"


def _band_in_another_crs(product: Path) -> str:
    with rasterio.open(product.parent / "B08.tif", "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:
        ds.crs = "EPSG:32632"
    return "band B08 .* is not on the grid of B02"


def _missing_band_file(product: Path) -> str:
    (product.parent / "B03.tif").unlink()
    return r"cannot open band B03"


def _truncated_jp2(product: Path) -> str:
    _truncate(next(product.glob("GRANULE/*/IMG_DATA/R10m/*_B02_10m.jp2")))
    return "band B02"


# (layout, breakage, the stage that finds it): fetch opens every band (headers, grids,
# CRSs); a file cut short after its header is found by infer, the first to read the pixels.
BROKEN: list[tuple[str, Callable[[Path], str], str]] = [
    ("cog", _truncated_cog, "infer"), ("cog", _band_in_another_crs, "fetch"),
    ("cog", _missing_band_file, "fetch"), ("safe", _truncated_jp2, "infer"),
]


def _all_nodata(product: Path) -> None:
    for band in ("B02", "B03", "B04", "B08"):
        with rasterio.open(product.parent / f"{band}.tif", "r+",
                           IGNORE_COG_LAYOUT_BREAK="YES") as ds:
            ds.write(np.zeros((1, ds.height, ds.width), ds.dtypes[0]))


def test_bad_products_fail_by_name_and_the_worker_carries_on(pipeline: Pipeline) -> None:
    samples = pipeline.home / "s"
    worker = pipeline.start_worker("b0")
    broken = []
    for day, (layout, breaks, _) in enumerate(BROKEN, start=1):
        product = make_sample_product("T31TCJ", date(2024, 7, day), 128, samples, seed=day,
                                      layout=layout)
        broken.append((product, breaks(product)))
    nodata = make_sample_product("T31TCJ", date(2024, 8, 1), 128, samples, seed=20)
    _all_nodata(nodata)
    good = make_sample_product("T31TCJ", date(2024, 8, 2), 128, samples, seed=21)

    # Absurd metadata never reaches a worker: the caller is told at once.
    future = make_sample_product("T31TCJ", date(2024, 8, 3), 128, samples, seed=22)
    future.write_text(future.read_text().replace('"2024-08-03T', '"2099-08-03T'))
    with pytest.raises(InvalidProductError, match="2099-08-03.* is in the future"):
        enqueue_product(str(future), None, connection=pipeline.redis, ingest=pipeline.ingest,
                        inference=pipeline.inference)

    queued = [enqueue_product(str(p), None, connection=pipeline.redis, ingest=pipeline.ingest,
                              inference=pipeline.inference)
              for p in [*(p for p, _ in broken), nodata, good]]
    for q, (_, problem), (_, _, stage) in zip(queued, broken, BROKEN, strict=False):
        with pytest.raises(JobFailedError, match=rf"job {stage}-.*invalid input: "
                                                 rf"{q.product_id}: {problem}"):
            wait_for(q.job_id, connection=pipeline.redis, timeout_s=60)
        failed = Job.fetch(ChainIds.of(q.product_id, q.model).job_id(Stage(stage)),
                           connection=pipeline.redis)
        assert failed.meta["attempts"] == 1  # invalid input: never retried
    results = [wait_for(q.job_id, connection=pipeline.redis, timeout_s=60) for q in queued[-2:]]
    assert worker.poll() is None, pipeline.logs()  # never crashed

    assert_published_once(pipeline, [r["item_id"] for r in results])
    empty = pipeline.item(results[0]["item_id"])
    assert empty["properties"]["clc:valid_fraction"] == 0.0
    assert pipeline.item(results[1]["item_id"])["properties"]["clc:valid_fraction"] > 0.9

    status = pipeline.status()
    n_ok = 2
    n_fetch = sum(stage == "fetch" for _, _, stage in BROKEN)
    n_infer = len(BROKEN) - n_fetch
    # A failed stage leaves its product's later stages deferred ("waiting") until the product
    # is re-queued: shown, not hidden.
    assert status["stages"] == {
        "fetch": counts(failed=n_fetch, done=n_ok + n_infer),
        "infer": counts(waiting=n_fetch, failed=n_infer, done=n_ok),
        "publish": counts(waiting=len(BROKEN), done=n_ok)}
    assert status["published_last_hour"] == n_ok
    assert sorted((f["product_id"], f["stage"]) for f in status["failures"]) == \
        sorted((q.product_id, stage) for q, (_, _, stage) in zip(queued, BROKEN, strict=False))
    assert all(f["cause"].startswith(f"invalid input: {f['product_id']}: ")
               for f in status["failures"])
