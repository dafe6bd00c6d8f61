"""Local COGs kept open between tiles (tiler.datasets): one handle per thread and file, a new
one when the file is replaced, closed when idle or deleted."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from tests.tiler.landcover_data import FOREST, WATER, write_cog
from tiler import datasets
from tiler.datasets import OPEN_PER_THREAD, open_local, sweep_all


def test_a_file_stays_open_for_its_thread_only(tmp_path: Path) -> None:
    cog = str(write_cog(tmp_path / "a.tif"))
    first = open_local(cog)
    assert first is not None and open_local(cog) is first
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(open_local(cog)))
    thread.start()
    thread.join()
    assert other[0] is not None and other[0] is not first


def test_a_replaced_file_is_opened_again_with_its_new_pixels(tmp_path: Path) -> None:
    path = tmp_path / "landcover.tif"
    write_cog(path, left=WATER, right=FOREST)
    before = open_local(str(path))
    assert before is not None and before.read(1)[0, 0] == WATER
    write_cog(tmp_path / "new.tif", left=FOREST, right=WATER)
    os.replace(tmp_path / "new.tif", path)
    after = open_local(str(path))
    assert after is not None and after is not before
    assert after.read(1)[0, 0] == FOREST


def test_idle_and_deleted_files_are_closed_by_the_sweep(tmp_path: Path) -> None:
    kept, gone = (str(write_cog(tmp_path / name)) for name in ("kept.tif", "gone.tif"))
    kept_ds, gone_ds = open_local(kept), open_local(gone)
    assert kept_ds is not None and gone_ds is not None
    os.remove(gone)
    assert sweep_all() >= 1
    assert gone_ds.closed and not kept_ds.closed
    assert sweep_all(now=time.monotonic() + datasets.IDLE_S + 1) >= 1
    assert kept_ds.closed
    reopened = open_local(kept)
    assert reopened is not None and not reopened.closed


def test_each_thread_keeps_a_few_files(tmp_path: Path) -> None:
    paths = [str(write_cog(tmp_path / f"{n}.tif")) for n in range(OPEN_PER_THREAD + 1)]
    handles = [open_local(p) for p in paths]
    assert handles[0] is not None and handles[0].closed  # the oldest made room
    assert all(h is not None and not h.closed for h in handles[1:])


def test_remote_missing_and_broken_files_are_left_to_the_reader(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a tiff")
    assert open_local("s3://bucket/a.tif") is None
    assert open_local("https://example.org/a.tif") is None
    assert open_local(str(tmp_path / "missing.tif")) is None
    assert open_local(str(broken)) is None
