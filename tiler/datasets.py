"""Local COGs kept open between tiles.

Opening a COG (GDAL parses its header and tile index) costs about 0.5 ms, a tenth of reading
and drawing a 256 px tile of it, and a map asks for dozens of tiles of the same few files.
Each thread keeps its last few datasets open (GDAL handles are not safe across threads) and
hands them to rio-tiler's ``Reader(dataset=...)``, which then neither opens nor closes them.

A file is known by path, inode and modification time: a re-processed product lives in a new
run folder, and a file replaced under the same path is opened again. A handle nobody used for
``IDLE_S`` seconds, or whose file is gone, is closed by a sweeper thread, so an idle tiler
never holds the disk space of pruned runs. Remote hrefs (S3, HTTP) are opened per read, as
upstream does.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import rasterio
from rasterio.errors import RasterioIOError
from rasterio.io import DatasetReader

OPEN_PER_THREAD = 4
# Far longer than any read of an open handle takes (a request's whole time limit is less).
IDLE_S = 60.0
SWEEP_EVERY_S = 10.0

Key = tuple[str, int, int]


@dataclass
class _Open:
    dataset: DatasetReader
    used: float


@dataclass(eq=False)
class ThreadFiles:
    """One thread's open datasets; the lock is shared with the sweeper only."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    files: OrderedDict[Key, _Open] = field(default_factory=OrderedDict)

    def get(self, key: Key, now: float) -> DatasetReader | None:
        with self.lock:
            entry = self.files.get(key)
            if entry is None or entry.dataset.closed:
                return None
            entry.used = now
            self.files.move_to_end(key)
            return entry.dataset

    def put(self, key: Key, dataset: DatasetReader, now: float) -> None:
        with self.lock:
            self.files[key] = _Open(dataset, now)
            while len(self.files) > OPEN_PER_THREAD:
                self.files.popitem(last=False)[1].dataset.close()

    def sweep(self, now: float, idle_s: float = IDLE_S) -> int:
        """Close handles idle for ``idle_s`` or whose file is gone; return how many."""
        with self.lock:
            stale = [key for key, entry in self.files.items()
                     if now - entry.used > idle_s or not os.path.exists(key[0])]
            for key in stale:
                self.files.pop(key).dataset.close()
        return len(stale)


_local = threading.local()
_all: weakref.WeakSet[ThreadFiles] = weakref.WeakSet()
_sweeper_started = threading.Lock()
_sweeper: threading.Thread | None = None


def _thread_files() -> ThreadFiles:
    files = getattr(_local, "files", None)
    if files is None:
        files = _local.files = ThreadFiles()
        _all.add(files)
        _start_sweeper()
    return files


def sweep_all(now: float | None = None, idle_s: float = IDLE_S) -> int:
    """Run one sweep over every thread's handles; return how many were closed."""
    now = time.monotonic() if now is None else now
    return sum(files.sweep(now, idle_s) for files in list(_all))


def _start_sweeper() -> None:
    global _sweeper
    with _sweeper_started:
        if _sweeper is None:
            def run() -> None:
                while True:
                    time.sleep(SWEEP_EVERY_S)
                    sweep_all()

            _sweeper = threading.Thread(target=run, name="tiler-dataset-sweeper", daemon=True)
            _sweeper.start()


def open_local(href: str) -> DatasetReader | None:
    """This thread's open dataset of the local file ``href``; None for a remote href or a
    file that cannot be opened (the caller's reader then opens it and reports the error)."""
    if urlsplit(href).scheme or not href.startswith("/"):
        return None
    try:
        stat = os.stat(href)
    except OSError:
        return None
    key = (href, stat.st_ino, stat.st_mtime_ns)
    files, now = _thread_files(), time.monotonic()
    dataset = files.get(key, now)
    if dataset is not None:
        return dataset
    try:
        dataset = rasterio.open(href)
    except RasterioIOError:
        return None
    files.put(key, dataset, now)
    return dataset
