"""What keeps fetching within bounds: a disk ceiling, and download slots per provider and host.

Both answer "not now" with ``FetchPaused``: the fetch job is put back on its queue for later
(``PipelineWorker`` schedules it again without using up a retry), never failed.

Disk: before a download, the inputs folder's size (partial downloads included) plus the
product's announced size must stay under ``inputs_max_gb``, and its file system must keep
``inputs_min_free_gb`` free. The first job to find the ceiling reached logs it with the figures;
the other jobs pausing meanwhile stay quiet, and the first to pass again logs the resumption.

Slots: a counting semaphore in Redis per provider and per worker host - a sorted set of holders
scored by their expiry, in Redis's own clock (one clock for every host). A holder renews its
slots from a thread while it downloads; a killed worker renews nothing, so its slot lapses after
``fetch_slot_ttl_s`` and the next job takes it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from ingest.errors import TransientError
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)
GB = 1e9


class FetchPaused(TransientError):
    """Not now (disk ceiling, no download slot): try the job again after ``delay_s``."""

    def __init__(self, message: str, delay_s: float) -> None:
        super().__init__(message)
        self.delay_s = delay_s


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (temporary download folders included)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # renamed or removed meanwhile
                total += os.lstat(os.path.join(root, name)).st_size
    return total


@dataclass(frozen=True)
class DiskFigures:
    used_bytes: int
    free_bytes: int
    expected_bytes: int

    def over(self, settings: IngestSettings) -> str | None:
        """Why a download of ``expected_bytes`` must wait, or None."""
        if settings.inputs_max_gb is not None and \
                self.used_bytes + self.expected_bytes > settings.inputs_max_gb * GB:
            return (f"inputs folder holds {self.used_bytes / GB:.3f} GB, the product "
                    f"{self.expected_bytes / GB:.3f} GB, ceiling {settings.inputs_max_gb} GB")
        if self.free_bytes - self.expected_bytes < settings.inputs_min_free_gb * GB:
            return (f"{self.free_bytes / GB:.3f} GB free, the product "
                    f"{self.expected_bytes / GB:.3f} GB, {settings.inputs_min_free_gb} GB "
                    "kept free")
        return None


def check_disk(inputs: Path, expected_bytes: int, settings: IngestSettings,
               connection: Redis) -> None:
    """Raise ``FetchPaused`` when downloading ``expected_bytes`` into ``inputs`` would pass
    the ceiling; log the ceiling once per pause and the resumption once."""
    inputs.mkdir(parents=True, exist_ok=True)
    figures = DiskFigures(folder_bytes(inputs), shutil.disk_usage(inputs).free, expected_bytes)
    why = figures.over(settings)
    flag = f"{settings.queue_prefix}earthsig:fetch:disk-paused"
    if why is None:
        if connection.delete(flag):
            log.warning("fetching resumes: %s holds %.3f GB, %.3f GB free", inputs,
                        figures.used_bytes / GB, figures.free_bytes / GB)
        return
    if connection.set(flag, why, nx=True, ex=86400):
        log.warning("fetching paused at the disk ceiling: %s (%s); fetch jobs retry every "
                    "%d s", why, inputs, settings.fetch_pause_s)
    raise FetchPaused(f"disk ceiling: {why}", settings.fetch_pause_s)


# KEYS: semaphores; ARGV: token, ttl_ms, then one limit per key. All or nothing, so two jobs
# each holding one of the two slots they need cannot wait on each other.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then return 0 end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2]) * 2)
end
return 1
"""
# Renew only what is still held: a lapsed slot may be someone else's by now.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = 0
for _, key in ipairs(KEYS) do
  local score = redis.call('ZSCORE', key, ARGV[1])
  if score and tonumber(score) > now then
    redis.call('ZADD', key, 'XX', now + tonumber(ARGV[2]), ARGV[1])
    redis.call('PEXPIRE', key, tonumber(ARGV[2]) * 2)
    held = held + 1
  end
end
return held
"""


def slot_keys(provider: str, settings: IngestSettings, host: str | None = None
              ) -> dict[str, int]:
    """The semaphores a download from ``provider`` on this host takes, with their bounds."""
    prefix = f"{settings.queue_prefix}earthsig:fetch:slots"
    return {f"{prefix}:provider:{provider}": settings.fetch_per_provider,
            f"{prefix}:host:{host or socket.gethostname()}": settings.fetch_per_host}


@contextmanager
def download_slots(provider: str, settings: IngestSettings, connection: Redis, *,
                   host: str | None = None) -> Iterator[None]:
    """Hold a slot of ``provider`` and of this host while the block runs; wait for them up to
    ``fetch_slot_wait_s``, then raise ``FetchPaused``."""
    keys = slot_keys(provider, settings, host)
    token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    ttl_ms = settings.fetch_slot_ttl_s * 1000
    acquire, renew = connection.register_script(_ACQUIRE), connection.register_script(_RENEW)
    deadline = time.monotonic() + settings.fetch_slot_wait_s
    while not acquire(keys=list(keys), args=[token, ttl_ms, *keys.values()]):
        if time.monotonic() >= deadline:
            raise FetchPaused(f"no download slot free for provider {provider!r} within "
                              f"{settings.fetch_slot_wait_s:.0f} s", settings.fetch_pause_s)
        time.sleep(0.5)
    stop = threading.Event()

    def keep() -> None:
        while not stop.wait(settings.fetch_slot_ttl_s / 3):
            try:
                renew(keys=list(keys), args=[token, ttl_ms])
            except Exception:  # Redis away for a moment: the next renewal tries again
                log.warning("could not renew download slot %s", token, exc_info=True)

    keeper = threading.Thread(target=keep, name="fetch-slot", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
        for key in keys:
            connection.zrem(key, token)
