"""Staging a run's files: a temporary folder, checksums, and the atomic rename into place.

Each processing run writes into a staging folder that becomes its own run folder
(``<item>/<run>/``) only when every file is complete (see ``ingest.store``). The item is
registered pointing at that run; only then are earlier runs removed. If registration fails,
the new run is discarded and the earlier item still points at its own, untouched files: no
reader ever sees half an output or an item whose files changed under it.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHUNK = 1 << 20


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
    """Sortable and unique: UTC time to the microsecond plus a little randomness."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{secrets.token_hex(3)}"


@contextmanager
def staging_folder(item_dir: Path) -> Iterator[Path]:
    """A hidden temporary folder in ``item_dir``; removed if the block fails."""
    item_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging.", dir=item_dir))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish_run(staging: Path, run_dir: Path) -> None:
    """Make the complete staging folder visible as ``run_dir`` (one rename, atomic)."""
    staging.chmod(0o755)
    staging.rename(run_dir)
