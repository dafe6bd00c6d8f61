"""The disk fills up while a worker writes a product's COGs (issue 11, item 1).

The asset store is a small file system of its own (tmpfs, else a loop-mounted ext4 image),
filled to the last byte by a ballast file. The infer stage fails with a transient cause
naming the full file system; nothing of the product is left in the store and no item is
registered; once the ballast is deleted the retry publishes the product, once.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from rq.job import Job, JobStatus

from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.queue import enqueue_product, wait_for
from ingest.orchestration.stages import Stage
from samples import make_sample_product
from tests.e2e.faults import Pipeline, all_done, assert_published_once

SIZE = "16m"


def _mount(target: Path, image: Path) -> str:
    """Mount a small file system at ``target``: tmpfs, else a loop-mounted ext4 image."""
    target.mkdir()
    tmpfs = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs",
                            str(target)], capture_output=True, text=True)
    if tmpfs.returncode == 0:
        return "tmpfs"
    errors = [f"tmpfs: {tmpfs.stderr.strip()}"]
    steps = [["truncate", "-s", SIZE, str(image)], ["mkfs.ext4", "-q", "-F", str(image)],
             ["mount", "-o", "loop", str(image), str(target)]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            errors.append(f"{step[0]}: {done.stderr.strip()}")
            pytest.skip("cannot mount a small file system here: " + "; ".join(errors))
    return "loop ext4"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "store"
    _mount(target, tmp_path / "store.img")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def _fill(disk: Path) -> Path:
    """Write a ballast until the file system refuses one more byte."""
    ballast = disk / "ballast"
    with ballast.open("wb", buffering=0) as f:
        for size in (1 << 16, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)
    try:
        (disk / ".probe").write_bytes(b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    else:
        raise AssertionError("the small disk still takes data")
    finally:
        (disk / ".probe").unlink(missing_ok=True)
    return ballast


@pytest.fixture
def pipeline(tmp_path: Path, pgstac_dsn: str, redis_url: str, small_disk: Path
             ) -> Iterator[Pipeline]:
    p = Pipeline(tmp_path / "home", pgstac_dsn, redis_url, asset_root=small_disk,
                 retry_intervals_s=[2, 2, 2, 2, 2, 2])
    p.home.mkdir()
    yield p
    p.stop()


def test_disk_full_while_writing_cogs_is_retried_once_space_is_freed(
        pipeline: Pipeline, small_disk: Path) -> None:
    href = str(make_sample_product("T31TCJ", date(2024, 7, 1), 256, pipeline.home / "s",
                                   seed=8))
    ballast = _fill(small_disk)
    pipeline.start_worker("d0")
    queued = enqueue_product(href, None, connection=pipeline.redis, ingest=pipeline.ingest,
                             inference=pipeline.inference)
    infer = ChainIds.of(queued.product_id, queued.model).job_id(Stage.INFER)
    deadline = time.monotonic() + 60
    while True:  # the first attempt fails on the full disk; a retry is scheduled
        job = Job.fetch(infer, connection=pipeline.redis)
        if job.meta.get("cause") and job.get_status() == JobStatus.SCHEDULED:
            break
        assert time.monotonic() < deadline, pipeline.logs()
        time.sleep(0.1)
    assert job.meta["cause"].startswith(
        f"transient: DiskFullError: disk full: no space left on {small_disk} "), job.meta
    assert "landcover.tif" in job.meta["cause"]  # the first COG the stage writes
    # Nothing of the product visible: no file but the ballast, no item.
    assert [p for p in small_disk.rglob("*") if p.is_file()] == [ballast]
    assert pipeline.items() == []
    # Still in the pipeline, never failed: scheduled for its retry (waiting), or, on a slow
    # machine, already back in the queue or retrying on the still-full disk.
    infer_counts = pipeline.status()["stages"]["infer"]
    assert infer_counts["failed"] == 0, infer_counts
    assert infer_counts["waiting"] + infer_counts["queued"] + infer_counts["running"] == 1, \
        infer_counts

    ballast.unlink()  # the operator frees space
    try:
        result = wait_for(queued.job_id, connection=pipeline.redis, timeout_s=60)
    except (TimeoutError, RuntimeError) as exc:
        raise AssertionError(f"{exc}\n{pipeline.logs()}") from exc
    assert Job.fetch(infer, connection=pipeline.redis).meta["attempts"] >= 2
    assert_published_once(pipeline, [result["item_id"]])
    status = pipeline.status()
    assert status["stages"] == all_done(1) and status["published_last_hour"] == 1
    assert shutil.disk_usage(small_disk).used > 0  # the product's files are there
