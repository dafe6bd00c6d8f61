"""SIGKILL of a worker inside each stage, deterministically (issue 11, item 1).

A pause point (``ingest.orchestration.pausepoints``, active only when ``EARTHSIG_PAUSE_AT`` is
set) holds the job at a chosen place of its stage; the test then kills the worker and its work horse
with SIGKILL, as a lost machine or the OOM killer would. Another worker on the host recovers
the abandoned job, the retry completes, and the product is published exactly once: one item,
one run of files, no staging left-overs, and ``earthsig status`` counting what happened.

The points, each the worst moment of its stage:

- ``fetch``: the product checked, the stage not yet finished;
- ``infer-staged``: every file written into the staging folder, not yet committed as a run;
- ``infer-published``: the run folder committed, the stage not yet finished (an orphan run);
- ``publish-registered``: the item registered, earlier runs not yet pruned, the stage not
  yet finished (the retry registers it again: an upsert, not a second item).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from rq.job import Job, JobStatus

from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.pausepoints import ENV, POINTS
from ingest.orchestration.queue import enqueue_product, wait_for
from ingest.orchestration.stages import Stage
from samples import make_sample_product
from tests.e2e.faults import (
    Pipeline,
    all_done,
    assert_published_once,
    kill_worker_of,
    wait_for_file,
)

STAGE_OF = {"fetch": Stage.FETCH, "infer-staged": Stage.INFER,
            "infer-published": Stage.INFER, "publish-registered": Stage.PUBLISH}


@pytest.fixture
def pipeline(tmp_path: Path, pgstac_dsn: str, redis_url: str) -> Iterator[Pipeline]:
    p = Pipeline(tmp_path / "home", pgstac_dsn, redis_url)
    p.home.mkdir()
    yield p
    p.stop()


@pytest.mark.parametrize("point", POINTS)
def test_worker_killed_inside_a_stage_loses_and_duplicates_nothing(
        point: str, pipeline: Pipeline, tmp_path: Path) -> None:
    marker = tmp_path / f"paused-{point}"
    pipeline.extra_env[ENV] = f"{point}:{marker}"
    for name in ("k0", "k1"):
        pipeline.start_worker(name)
    href = str(make_sample_product("T31TCJ", date(2024, 7, 1), 256, pipeline.home / "s",
                                   seed=4))
    queued = enqueue_product(href, None, connection=pipeline.redis, ingest=pipeline.ingest,
                             inference=pipeline.inference)
    horse = int(wait_for_file(marker, pipeline))  # the job sits at the point now
    stage_job = Job.fetch(ChainIds.of(queued.product_id, queued.model).job_id(STAGE_OF[point]),
                          connection=pipeline.redis)
    assert stage_job.get_status() == JobStatus.STARTED
    assert int(stage_job.meta["horse_pid"]) == horse
    victim = kill_worker_of(stage_job, pipeline, horse)

    try:
        result = wait_for(queued.job_id, connection=pipeline.redis, timeout_s=90)
    except (TimeoutError, RuntimeError) as exc:
        raise AssertionError(f"{exc}\n{pipeline.logs()}") from exc
    for stage in Stage:
        job = Job.fetch(ChainIds.of(queued.product_id, queued.model).job_id(stage),
                        connection=pipeline.redis)
        assert job.get_status() == JobStatus.FINISHED
        # The killed stage ran twice (the kill, the retry on the survivor); others once.
        assert job.meta["attempts"] == (2 if stage == STAGE_OF[point] else 1), stage
    assert Job.fetch(stage_job.id, connection=pipeline.redis).worker_name != victim
    assert_published_once(pipeline, [result["item_id"]])
    status = pipeline.status()
    assert status["stages"] == all_done(1)
    assert status["published_last_hour"] == 1
    assert status["failures"] == []


def test_pause_points_cost_nothing_when_unset(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    """Without the variable a point returns at once and leaves no marker."""
    from ingest.orchestration.pausepoints import pause_point

    monkeypatch.delenv(ENV, raising=False)
    t0 = time.monotonic()
    for point in POINTS:
        pause_point(point)
    monkeypatch.setenv(ENV, f"fetch:{tmp_path / 'm'}")
    pause_point("infer-staged")  # another point: not paused
    assert time.monotonic() - t0 < 5 and not (tmp_path / "m").exists()


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by an init that may never reap, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_a_worker_killed_alone_takes_its_children_with_it(pipeline: Pipeline,
                                                          tmp_path: Path) -> None:
    """SIGKILL of the worker process only (the OOM killer picks one process): its work
    horse, held inside a job, and RQ's scheduler process die with it instead of running on
    under init (issue 22, point 6)."""
    import os
    import signal

    from tests.workers import children

    marker = tmp_path / "paused"
    pipeline.extra_env[ENV] = f"fetch:{marker}"
    worker = pipeline.start_worker("lonely")
    href = str(make_sample_product("T31TCJ", date(2024, 7, 1), 256, pipeline.home / "s",
                                   seed=5))
    enqueue_product(href, None, connection=pipeline.redis, ingest=pipeline.ingest,
                    inference=pipeline.inference)
    horse = int(wait_for_file(marker, pipeline))
    deadline = time.monotonic() + 30
    while len(kids := children(worker.pid)) < 2:  # the horse and the scheduler
        assert time.monotonic() < deadline, f"children {kids}\n{pipeline.logs()}"
        time.sleep(0.2)
    assert horse in kids
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    try:
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in kids):
            assert time.monotonic() < deadline, [p for p in kids if _alive(p)]
            time.sleep(0.1)
    finally:  # whatever the outcome, nothing of this test runs on
        for pid in kids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
