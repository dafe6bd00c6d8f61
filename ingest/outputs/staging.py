"""Staging a run's files: a temporary folder, checksums, run ids, and the atomic rename into
place.

Each processing run writes into a staging folder that becomes its own run folder
(``<item>/<run>/``) only when every file is complete (see ``ingest.outputs.store``). The item is
registered pointing at that run; only then are earlier runs removed. If registration fails,
the new run is discarded and the earlier item still points at its own, untouched files: no
reader ever sees half an output or an item whose files changed under it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

CHUNK = 1 << 20
STAGING_PREFIX = ".staging."
# A staging folder younger than this whose writer cannot be checked (another host) may be a
# twin run's, still writing; an older one was left by a killed process.
STALE_STAGING_S = 24 * 3600.0


def multihash_sha256(path: Path) -> str:
    """The file extension's checksum: multihash of SHA2-256 (code 0x12, 32 bytes), in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return "1220" + digest.hexdigest()


def describe(path: Path) -> tuple[int, str]:
    """(size, checksum) of a file, for the file extension."""
    return path.stat().st_size, multihash_sha256(path)


def new_run_id() -> str:
    """Sortable and unique: UTC time to the microsecond plus a little randomness.

    ``20261125T071301.123456-9c2c67``: ids sort by time (a prune removes the runs before the
    registered one), also against the older ``20261125T071301-9c2c67`` form ('.' > '-').
    """
    now = datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond:06d}-{secrets.token_hex(3)}"


@contextmanager
def staging_folder(item_dir: Path) -> Iterator[Path]:
    """A hidden temporary folder in ``item_dir``; removed if the block fails."""
    item_dir.mkdir(parents=True, exist_ok=True)
    # Named after its writer (pid, host), so that a prune can tell a killed run's leftovers
    # from a twin run still writing (staging_abandoned).
    owner = f"{STAGING_PREFIX}{os.getpid()}~{socket.gethostname()}~"
    staging = Path(tempfile.mkdtemp(prefix=owner, dir=item_dir))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def staging_abandoned(staging: Path) -> bool:
    """Whether a staging folder's writer is gone: a process of this host that no longer runs,
    or (another host's, or unnamed) untouched for :data:`STALE_STAGING_S`."""
    pid, _, rest = staging.name.removeprefix(STAGING_PREFIX).partition("~")
    host = rest.partition("~")[0]
    if pid.isdigit() and host == socket.gethostname():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False
    try:
        return time.time() - staging.stat().st_mtime > STALE_STAGING_S
    except FileNotFoundError:  # committed or discarded meanwhile
        return False


def rename_into_place(staging: Path, run_dir: Path) -> None:
    """Make the complete staging folder visible as ``run_dir`` (one rename, atomic)."""
    staging.chmod(0o755)
    staging.rename(run_dir)
