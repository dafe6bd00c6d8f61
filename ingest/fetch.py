"""Fetching products a worker cannot read in place: SAFE zips downloaded through EODAG.

COG bands are never fetched: GDAL reads them where they are (``/vsicurl/``, HTTP range reads;
see ``ingest.readers.bands.gdal_path``). A zip is downloaded by EODAG's own download plugin
(which handles the provider's authentication) into a temporary folder beside the target,
checked - its size and checksum against the provider's ``file:size``/``file:checksum`` when
given, and every member's CRC - and only then renamed into place, so a partial download is
never taken for a whole one. Transient failures are retried with exponential back-off.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from ingest.errors import InvalidProductError, TransientError

log = logging.getLogger(__name__)

RETRIES = 3
BACKOFF_S = 2.0


def fetch_product(product: Any, out_dir: Path, *, retries: int = RETRIES,
                  backoff_s: float = BACKOFF_S) -> Path:
    """The local zip of EODAG ``product`` in ``out_dir`` (downloaded unless already there)."""
    from eodag.utils.exceptions import AuthenticationError, EodagError

    product_id = str(product.properties["id"])
    target = Path(out_dir) / f"{product_id}.zip"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(retries):
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as tmp:
            try:
                # wait/timeout 0: our own loop retries, EODAG's would sleep minutes.
                path = Path(product.download(output_dir=tmp, extract=False, wait=0,
                                             timeout=0))
            except AuthenticationError as exc:
                raise InvalidProductError(f"{product_id}: provider refused the credentials "
                                          f"({type(exc).__name__})") from exc
            except (EodagError, OSError) as exc:
                if attempt + 1 == retries:
                    raise TransientError(f"{product_id}: download failed {retries} times: "
                                         f"{type(exc).__name__}: {exc}") from exc
                delay = backoff_s * 2**attempt
                log.warning("%s: download failed (%s), retry in %.0fs", product_id,
                            type(exc).__name__, delay)
                time.sleep(delay)
                continue
            _check(path, product, product_id)
            shutil.move(str(path), target)  # same file system: a rename
            return target
    raise AssertionError("unreachable")


def _check(path: Path, product: Any, product_id: str) -> None:
    if path.is_dir():
        raise InvalidProductError(f"{product_id}: the provider served a folder, not a zip")
    props = product.properties
    size = props.get("file:size")
    if size is not None and path.stat().st_size != int(size):
        raise TransientError(f"{product_id}: downloaded {path.stat().st_size} bytes, "
                             f"the provider announced {size}")
    checksum = props.get("file:checksum")
    if checksum and not _multihash_matches(path, str(checksum)):
        raise TransientError(f"{product_id}: checksum mismatch for {path.name}")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # every member's CRC-32
    except zipfile.BadZipFile as exc:
        raise InvalidProductError(f"{product_id}: {path.name} is not a zip: {exc}") from exc
    if bad is not None:
        raise TransientError(f"{product_id}: {path.name} member {bad} is corrupt")


def _multihash_matches(path: Path, multihash: str) -> bool:
    """SHA2-256 multihash (``1220`` + hex digest), the STAC file extension's usual form."""
    if not multihash.startswith("1220"):
        return True  # another hash function: not checked rather than wrongly refused
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == multihash[4:]
