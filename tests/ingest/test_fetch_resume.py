"""Downloads that resume (issue 23, point 2): a cut-off download continues with ``Range``.

Real services: EODAG against the local STAC API of the discovery tests, the range-serving
download server ``slow_files`` (which records every request's ``Range`` and ``If-Range`` and the
bytes it sent), Redis, and ``python -m infra worker`` processes for the killed worker.
"""

# ruff: noqa: F811 - the fixtures imported from other test modules are taken as parameters
from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import httpx
import pytest
from redis import Redis
from rq.job import Job

from ingest.errors import TransientError
from ingest.fetch import ProductSource, eodag_product, fetch_product
from ingest.fetch_inputs import fetch_claimed
from ingest.fetch_limits import FetchPaused
from ingest.settings import IngestSettings
from tests.ingest.test_discovery import api, catalog, dag, eodag_env  # noqa: F401 (fixtures)
from tests.ingest.test_fetch_scaling import (  # noqa: F401 (fixtures)
    _enqueue_fetch,
    _sources,
    _start_workers,
    _wait_finished,
    slow_server,
    worker_env,
)
from tests.workers import kill_worker, stop_workers


def _requests(server: str, name: str) -> list[dict]:
    return httpx.get(f"{server}/_stats").json()["requests"].get(f"{name}.zip", [])


def _fetch(dag, source: ProductSource, inputs: Path) -> Path:
    return fetch_product(eodag_product(source), inputs, dag=dag, backoff_s=0.05)


def _with_checksum(source: ProductSource, data: bytes) -> ProductSource:
    eodag = {**(source.eodag or {})}
    eodag["properties"] = {**eodag["properties"],
                           "file:checksum": "1220" + hashlib.sha256(data).hexdigest()}
    return ProductSource(source.product_id, eodag=eodag)


def _only_the_zip(inputs: Path, name: str) -> None:
    """The whole zip in place, no part, note or lock left beside it."""
    assert sorted(p.name for p in inputs.iterdir()) == [f"{name}.zip"]


def test_a_download_cut_off_continues_where_it_stopped(dag, catalog: dict, slow_server: str,
                                                      tmp_path: Path) -> None:
    data = catalog["zip"].read_bytes()
    [source] = _sources(dag, slow_server, ["cut-P1"])
    path = _fetch(dag, source, tmp_path)
    first, second = _requests(slow_server, "cut-P1")
    assert first["range"] is None and 0 < first["sent"] < len(data)  # broken off
    # The retry asked for the rest only, on condition the file is the one it began.
    assert second == {"range": f"bytes={first['sent']}-", "if_range": '"v1"', "status": 206,
                      "sent": len(data) - first["sent"]}
    assert path.read_bytes() == data
    _only_the_zip(tmp_path, "cut-P1")


@pytest.mark.parametrize(("name", "why"), [("norange-cut-P2", "ranges ignored"),
                                           ("changed-cut-P3", "file replaced")])
def test_a_server_sending_the_whole_file_again_is_written_from_zero(
        dag, catalog: dict, slow_server: str, tmp_path: Path, name: str, why: str) -> None:
    data = catalog["zip"].read_bytes()
    [source] = _sources(dag, slow_server, [name])
    path = _fetch(dag, source, tmp_path)
    first, second = _requests(slow_server, name)
    assert second["range"] == f"bytes={first['sent']}-"  # asked to continue ...
    assert second["status"] == 200 and second["sent"] == len(data)  # ... got it all, why
    assert path.read_bytes() == data  # not the part with the whole file after it
    _only_the_zip(tmp_path, name)


def test_a_part_that_fails_the_checksum_is_thrown_away(dag, catalog: dict, slow_server: str,
                                                      tmp_path: Path) -> None:
    data = catalog["zip"].read_bytes()
    [source] = _sources(dag, slow_server, ["cut-P4"])
    source = _with_checksum(source, data)
    with pytest.raises(TransientError, match="cut-P4: download failed"):  # cut, then:
        fetch_product(eodag_product(source), tmp_path, dag=dag, retries=1)
    part = tmp_path / ".cut-P4.zip.part"
    held = part.stat().st_size
    assert 0 < held < len(data)
    part.write_bytes(b"\0" * held)  # a part damaged on disk (a host crashed, say)
    with pytest.raises(TransientError, match="cut-P4: checksum mismatch"):
        _fetch(dag, source, tmp_path)
    assert not part.exists()  # thrown away: the next try starts from zero ...
    path = _fetch(dag, source, tmp_path)
    assert [r["range"] for r in _requests(slow_server, "cut-P4")] == \
        [None, f"bytes={held}-", None]
    assert path.read_bytes() == data  # ... and is whole
    _only_the_zip(tmp_path, "cut-P4")


def test_one_worker_at_a_time_downloads_a_product(dag, catalog: dict, slow_server: str,
                                                  redis_url: str, tmp_path: Path) -> None:
    """Two chains of one product (two model versions) fetching at once: one downloads, the
    other is paused (not failed) and finds the zip in place when it comes back."""
    settings = IngestSettings(_env_file=None, redis_url=redis_url, home=tmp_path,
                              inputs_root=tmp_path / "inputs", inputs_min_free_gb=0)
    connection = Redis.from_url(redis_url)
    [source] = _sources(dag, slow_server, ["P5"])
    outcomes: dict[str, object] = {}

    def chain(name: str) -> None:
        try:
            outcomes[name] = fetch_claimed(source, name, settings, connection, dag=dag)
        except FetchPaused as exc:
            outcomes[name] = exc

    first = threading.Thread(target=chain, args=("v1",))
    first.start()
    deadline = time.monotonic() + 60
    while not (tmp_path / "inputs" / ".P5.zip.part").is_file():  # v1 is downloading
        assert time.monotonic() < deadline, "the first download never began"
        time.sleep(0.05)
    chain("v2")
    first.join(60)
    assert outcomes["v1"] == str(tmp_path / "inputs" / "P5.zip")
    assert isinstance(outcomes["v2"], FetchPaused)
    assert "P5: another worker is downloading it" in str(outcomes["v2"])
    assert fetch_claimed(source, "v2", settings, connection, dag=dag) == outcomes["v1"]
    assert len(_requests(slow_server, "P5")) == 1
    _only_the_zip(tmp_path / "inputs", "P5")


def test_a_killed_worker_s_download_is_continued_by_the_retry(
        dag, catalog: dict, slow_server: str, worker_env: dict[str, str], redis_url: str,
        tmp_path: Path) -> None:
    data = catalog["zip"].read_bytes()
    connection = Redis.from_url(redis_url)
    [source] = _sources(dag, slow_server, ["stall-P6"])
    source = _with_checksum(source, data)
    part = tmp_path / "inputs" / ".stall-P6.zip.part"
    # Two workers: the survivor takes the killed one's job again once its slot lapses (3 s).
    workers = _start_workers(2, {**worker_env, "EARTHSIG_FETCH_SLOT_TTL_S": "3"}, tmp_path)
    try:
        job_id = _enqueue_fetch(source, connection)
        deadline = time.monotonic() + 120
        while not part.is_file() or part.stat().st_size == 0:  # some bytes written
            assert time.monotonic() < deadline, "the download never began"
            time.sleep(0.1)
        job = Job.fetch(job_id, connection=connection)
        holder = workers[int(str(job.worker_name).removeprefix("fetch-"))]
        kill_worker(holder, int(job.meta["horse_pid"]))
        _wait_finished([job_id], connection, tmp_path)
    finally:
        stop_workers(workers)
    first, second = _requests(slow_server, "stall-P6")
    held = int(second["range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < held <= first["sent"] < len(data)
    assert second["status"] == 206 and second["sent"] == len(data) - held
    assert (tmp_path / "inputs" / "stall-P6.zip").read_bytes() == data
    _only_the_zip(tmp_path / "inputs", "stall-P6")
