"""The local asset store's pruning: earlier runs go; a twin's later run or staging folder stays."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from ingest.outputs.staging import STALE_STAGING_S, new_run_id, staging_folder
from ingest.outputs.store import LocalStore

ITEM = "landcover/S2B_31TCJ_20240825_0_L2A_clc-spectral_v1"


def _run(store: LocalStore, run: str) -> str:
    with staging_folder(store.staging_parent(ITEM)) as staging:
        (staging / "landcover.tif").write_bytes(b"cog")
        store.commit_run(staging, f"{ITEM}/{run}")
    return f"{ITEM}/{run}"


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid  # gone, and not reused in the instant this test runs


def test_prune_removes_earlier_runs_and_abandoned_staging_only(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    earlier = _run(store, "20240101T000000-aaaaaa")
    keep = _run(store, "20240102T000000-bbbbbb")
    later = _run(store, "20240103T000000-cccccc")  # a twin's, published, not yet registered
    item_dir = tmp_path / ITEM
    host = socket.gethostname()
    folders = {
        "writing": f".staging.{os.getpid()}~{host}~abc",  # a twin (alive) still writing
        "killed": f".staging.{_dead_pid()}~{host}~def",  # its writer was killed here
        "elsewhere": ".staging.4242~other-host~ghi",  # another host's: cannot be checked
        "elsewhere, a day old": ".staging.4243~other-host~jkl",
        "unnamed, a day old": ".staging.mno",
    }
    for name in folders.values():
        (item_dir / name).mkdir()
        (item_dir / name / "landcover.tif").write_bytes(b"half")
    old = time.time() - STALE_STAGING_S - 60
    for what in ("elsewhere, a day old", "unnamed, a day old"):
        os.utime(item_dir / folders[what], (old, old))

    store.prune(ITEM, keep)

    assert sorted(p.name for p in item_dir.iterdir()) == sorted(
        [keep.rsplit("/", 1)[1], later.rsplit("/", 1)[1], folders["writing"],
         folders["elsewhere"]])
    assert not (tmp_path / earlier).exists()
    assert (tmp_path / keep / "landcover.tif").read_bytes() == b"cog"
    assert (item_dir / folders["writing"] / "landcover.tif").read_bytes() == b"half"


def test_a_staging_folder_is_named_after_its_writer(tmp_path: Path) -> None:
    with staging_folder(tmp_path) as staging:
        assert staging.name.startswith(f".staging.{os.getpid()}~{socket.gethostname()}~")


def test_the_twin_that_registers_last_prunes_the_other(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    first = _run(store, new_run_id())
    second = _run(store, new_run_id())
    store.prune(ITEM, first)  # the earlier run registered first: the later one is left
    assert (tmp_path / second).exists()
    store.prune(ITEM, second)  # the later one registered: the earlier one goes
    assert not (tmp_path / first).exists() and (tmp_path / second).exists()


def test_run_ids_sort_by_time_within_a_second() -> None:
    ids = [new_run_id() for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert "20261125T071301-ffffff" < "20261125T071301.000000-000000"  # the older form
