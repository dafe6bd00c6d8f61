"""What the fetch stage brings: a product read in place, or a SAFE zip downloaded via EODAG.

Discovery queues a ``ProductSource``: an href a worker can read where it is (a STAC item with
COG bands, a SAFE folder or zip on a shared file system), or the provider's product as EODAG
serialises it (``EOProduct.as_dict``), for a fetch worker on any host to download. COG bands
are never fetched: GDAL reads them where they are (``/vsicurl/``, HTTP range reads; see
``ingest.readers.bands.gdal_path``).

A zip is downloaded into the inputs folder (``IngestSettings.inputs``, shared by the workers).
One EODAG would fetch with a plain HTTP GET is fetched by ``ingest.resumable_download`` (the
same request, with EODAG's authentication, and a ``Range`` that continues a cut-off try);
others by EODAG's own download plugin, into a temporary folder beside the target. Either way
the file is checked - its size and checksum against the provider's ``file:size`` /
``file:checksum`` when given, and every member's CRC - and only then renamed into place, so a
partial download is never taken for a whole one. A zip already there is not downloaded again.
Transient failures are retried with exponential back-off.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from ingest.errors import InvalidProductError, TransientError
from ingest.resumable_download import HttpRequest, PartialDownload, plain_http_request

log = logging.getLogger(__name__)

RETRIES = 3
BACKOFF_S = 2.0


@dataclass(frozen=True)
class ProductSource:
    """One product as discovery queues it: exactly one of ``href`` and ``eodag``.

    Plain data (JSON-able), so the fetch stage can run on another host than discovery.
    """

    product_id: str
    href: str | None = None  # readable in place
    eodag: dict[str, Any] | None = field(default=None, repr=False)  # EOProduct.as_dict()

    def __post_init__(self) -> None:
        if (self.href is None) == (self.eodag is None):
            raise ValueError(f"{self.product_id}: a product source is an href or an EODAG "
                             "product, one of them")

    @classmethod
    def of_eodag(cls, product: Any) -> ProductSource:
        """An EODAG product (``EOProduct``) to download."""
        return cls(str(product.properties["id"]), eodag=product.as_dict())

    @property
    def location(self) -> str:
        """Where the product is, for people: its href, or the provider's download link."""
        if self.href is not None:
            return self.href
        props = (self.eodag or {}).get("properties", {})
        return str(props.get("eodag:download_link") or props.get("eodag:provider"))

    def as_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "href": self.href, "eodag": self.eodag}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProductSource:
        return cls(data["product_id"], href=data.get("href"), eodag=data.get("eodag"))


def fetch(source: ProductSource, inputs: Path, *, dag: Any = None) -> str:
    """Where a worker reads ``source``: its href, or its zip downloaded into ``inputs`` (once:
    a zip already there is taken as it is, without asking the provider)."""
    if source.href is not None:
        return source.href
    target = zip_path(inputs, source.product_id)
    if target.is_file():
        return str(target)
    if dag is None:
        from eodag import EODataAccessGateway  # configured from EODAG's files and variables

        dag = EODataAccessGateway()
    return str(fetch_product(eodag_product(source), inputs, dag=dag))


def zip_path(inputs: Path, product_id: str) -> Path:
    return Path(inputs) / f"{product_id}.zip"


def eodag_product(source: ProductSource) -> Any:
    """The EODAG product ``source`` describes (``EOProduct.from_dict``, without a gateway:
    with one, EODAG would register a generic provider and prefer it)."""
    from eodag import EOProduct
    from eodag.utils.exceptions import EodagError

    try:
        return EOProduct.from_dict(source.eodag or {})
    except (EodagError, KeyError, ValueError) as exc:
        raise InvalidProductError(f"{source.product_id}: not an EODAG product description: "
                                  f"{type(exc).__name__}: {exc}") from exc


def fetch_product(product: Any, out_dir: Path, *, dag: Any = None, retries: int = RETRIES,
                  backoff_s: float = BACKOFF_S) -> Path:
    """The local zip of EODAG ``product`` in ``out_dir`` (downloaded unless already there).

    ``dag``: the gateway whose provider plugins download a product rebuilt from its
    description; without one, the product found by a search downloads itself.
    """
    from eodag.utils.exceptions import AuthenticationError, EodagError

    product_id = str(product.properties["id"])
    target = zip_path(out_dir, product_id)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(retries):
        try:
            # Asked on every try: the provider's token may have lapsed since the last one.
            request = plain_http_request(product, dag)
            if request is not None:
                return _download_resumable(product, request, target)
            return _download_with_eodag(product, target, dag)
        except AuthenticationError as exc:
            raise InvalidProductError(f"{product_id}: provider refused the credentials "
                                      f"({type(exc).__name__})") from exc
        except (EodagError, OSError, requests.RequestException) as exc:
            if attempt + 1 == retries:
                raise TransientError(f"{product_id}: download failed {retries} times: "
                                     f"{type(exc).__name__}: {exc}") from exc
            delay = backoff_s * 2**attempt
            log.warning("%s: download failed (%s), retry in %.0fs", product_id,
                        type(exc).__name__, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _download_resumable(product: Any, request: HttpRequest, target: Path) -> Path:
    """Our own GET with ``Range``, continuing a part an earlier try left."""
    product_id = str(product.properties["id"])
    partial = PartialDownload(target.parent, product_id)
    with partial.exclusive():
        if target.is_file():  # the worker that held the lock finished it
            return target
        path = partial.download(request)
        try:
            _check(path, product, product_id)
        except (TransientError, InvalidProductError):
            partial.discard()  # the next try starts from zero
            raise
        return partial.finish(target)


def _download_with_eodag(product: Any, target: Path, dag: Any) -> Path:
    """The provider's own download plugin, into a temporary folder beside ``target``."""
    product_id = str(product.properties["id"])
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as tmp:
        # wait/timeout 0: our own loop retries, EODAG's would sleep minutes.
        options = {"output_dir": tmp, "extract": False, "wait": 0, "timeout": 0}
        path = Path(dag.download(product, **options) if dag is not None
                    else product.download(**options))
        if not path.resolve().is_relative_to(Path(tmp).resolve()):
            # A provider's local product (``file:`` location): copied, never moved.
            path = Path(shutil.copy2(path, Path(tmp) / path.name))
        _check(path, product, product_id)
        shutil.move(str(path), target)  # same file system: a rename
        return target


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
