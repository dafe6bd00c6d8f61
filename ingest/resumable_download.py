"""Downloads that resume: a product's zip over HTTP, continued where a cut-off one stopped.

EODAG's ``HTTPDownload`` (4.10) writes a product from its first byte on every try and sends no
``Range``. For the products it would fetch with one plain GET (an online product, no assets to
fetch one by one, no order to place), we send that same request ourselves - the provider's URL,
query parameters, TLS setting and EODAG's own authentication - with ``requests`` and a
``Range``. Anything else (S3, orders, POST downloads, assets) stays with EODAG.

A download writes ``<inputs>/.<product>.zip.part`` beside a JSON note of where it comes
from and the server's validators (``ETag``, ``Last-Modified``, total size). Both outlive a killed
worker, and the next try asks for ``bytes=<what we hold>-`` with ``If-Range``: a 206 appends,
a 200 (the server ignores ranges, or the file changed) starts again from zero, a 416 means the
part is already whole. One worker at a time downloads a product: ``flock`` on a lock file beside it,
which the kernel releases when its holder dies. The caller checks the whole file (size,
checksum, CRCs) and moves it into place; a part that fails the checks is thrown away, so the
next try starts clean.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests
import urllib3

from ingest.errors import InvalidProductError, TransientError

log = logging.getLogger(__name__)
CHUNK_BYTES = 1 << 20
PROGRESS_EVERY_S = 10.0
_CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)")


class DownloadBusy(TransientError):
    """Another worker is downloading this product now."""


@dataclass(frozen=True)
class HttpRequest:
    """The GET that EODAG's HTTPDownload would send for a product."""

    url: str
    auth: requests.auth.AuthBase | None = field(default=None, repr=False)
    params: dict[str, Any] = field(default_factory=dict)
    verify: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 60.0


def plain_http_request(product: Any, dag: Any = None) -> HttpRequest | None:
    """The request for ``product`` when EODAG would download it with one plain HTTP GET, else
    None (the provider's plugin downloads it)."""
    from eodag.plugins.download.http import HTTPDownload
    from eodag.utils import DEFAULT_STREAM_REQUESTS_TIMEOUT, ONLINE_STATUS, USER_AGENT

    if dag is not None:
        # The gateway's own choice of download and authentication plugins for the product
        # (what ``dag.download`` does first; EODAG has no public call for it alone).
        dag._setup_downloader(product)
    downloader = product.downloader
    if type(downloader) is not HTTPDownload:  # its subclasses download otherwise
        return None
    config = downloader.config
    url = str(product.remote_location or "")
    method = (product.properties.get("eodag:download_method")
              or getattr(config, "method", "GET")).upper()
    online = product.properties.get("order:status", ONLINE_STATUS) == ONLINE_STATUS
    by_assets = bool(product.assets) and not downloader._should_ignore_assets(product)
    if not url.startswith(("http://", "https://")) or method != "GET" or not online \
            or by_assets:
        return None
    auth = None
    if product.downloader_auth is not None and not getattr(config, "no_auth_download", False):
        auth = product.downloader_auth.authenticate()
        if not isinstance(auth, requests.auth.AuthBase):
            return None  # S3 credentials and the like: not for an HTTP client
    return HttpRequest(url, auth=auth, params=dict(getattr(config, "dl_url_params", {}) or {}),
                       verify=bool(getattr(config, "ssl_verify", True)),
                       headers=dict(USER_AGENT), timeout_s=DEFAULT_STREAM_REQUESTS_TIMEOUT)


@dataclass(frozen=True)
class PartialDownload:
    """A product's download in progress: its part file and the note of where it comes from."""

    folder: Path  # the inputs folder: the part is renamed into place when whole
    product_id: str

    @property
    def part(self) -> Path:
        return self.folder / f".{self.product_id}.zip.part"

    @property
    def note(self) -> Path:
        return self.folder / f".{self.product_id}.zip.part.json"

    @property
    def lock(self) -> Path:
        return self.folder / f".{self.product_id}.zip.lock"

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the product's download against every other worker (``DownloadBusy``)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise DownloadBusy(f"{self.product_id}: another worker is downloading it")\
                    from exc
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def finish(self, target: Path) -> Path:
        """Move the whole, checked part to ``target`` (same file system: a rename)."""
        os.replace(self.part, target)
        self.note.unlink(missing_ok=True)
        # Only now: whoever takes the lock after this finds ``target`` there and stops.
        self.lock.unlink(missing_ok=True)
        return target

    def discard(self) -> None:
        self.part.unlink(missing_ok=True)
        self.note.unlink(missing_ok=True)

    def download(self, request: HttpRequest) -> Path:
        """The whole file, fetched or continued into ``part``; the caller holds ``exclusive``."""
        held = self._resumable_bytes(request)
        # Ranges count bytes as sent: no compression, whose bytes would not be the file's.
        headers = {**request.headers, "Accept-Encoding": "identity"}
        if held:
            headers["Range"] = f"bytes={held}-"
            validator = self._validator()
            if validator:
                headers["If-Range"] = validator
        with requests.get(request.url, params=request.params, auth=request.auth,
                          headers=headers, verify=request.verify, stream=True,
                          timeout=request.timeout_s) as response:
            if response.status_code == 416 and held:
                return self._whole_already(response, held, request)
            _raise_for(response, self.product_id)
            if response.status_code == 206:
                start, total = _content_range(response, self.product_id)
                if start != held:
                    self.discard()
                    raise TransientError(f"{self.product_id}: asked from byte {held}, the "
                                         f"server answered from byte {start}")
                log.info("%s: resuming the download at %.1f of %.1f MB", self.product_id,
                         held / 1e6, total / 1e6)
                mode = "ab"
            else:
                if held:
                    log.info("%s: the server sent the whole file again (status %d): "
                             "downloading from zero", self.product_id, response.status_code)
                held, mode = 0, "wb"
                total = int(response.headers.get("Content-Length") or 0)
            self._write_note(request, response, total)
            with self.part.open(mode) as out:
                _copy(response, out, self.product_id, held, total)
        return self.part

    def _resumable_bytes(self, request: HttpRequest) -> int:
        """Bytes of the part worth continuing (0: none, or one from another URL)."""
        if not self.part.is_file():
            return 0
        try:
            note = json.loads(self.note.read_text())
        except (OSError, ValueError):
            note = {}
        if note.get("url") != request.url:
            self.discard()
            return 0
        return self.part.stat().st_size

    def _validator(self) -> str | None:
        """The note's validator for ``If-Range``: a strong ETag, else Last-Modified."""
        note = json.loads(self.note.read_text())
        etag = note.get("etag")
        if etag and not str(etag).startswith("W/"):
            return str(etag)
        return note.get("last_modified")

    def _write_note(self, request: HttpRequest, response: requests.Response,
                    total: int) -> None:
        self.note.write_text(json.dumps({
            "url": request.url, "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"), "size": total}))

    def _whole_already(self, response: requests.Response, held: int,
                       request: HttpRequest) -> Path:
        _start, total = _content_range(response, self.product_id)
        if total == held:
            return self.part
        self.discard()  # a part longer than the file: not this file
        raise TransientError(f"{self.product_id}: held {held} bytes of a {total}-byte file; "
                             "downloading again")


def _raise_for(response: requests.Response, product_id: str) -> None:
    if response.status_code in (401, 403):
        raise InvalidProductError(f"{product_id}: provider refused the credentials "
                                  f"(HTTP {response.status_code})")
    response.raise_for_status()  # the caller retries it


def _content_range(response: requests.Response, product_id: str) -> tuple[int, int]:
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None or match[3] == "*":
        raise TransientError(f"{product_id}: the server's Content-Range "
                             f"{response.headers.get('Content-Range')!r} is not usable")
    return int(match[1] or 0), int(match[3])


def _copy(response: requests.Response, out: IO[bytes], product_id: str, held: int,
          total: int) -> None:
    """Stream the body into ``out``, saying every ``PROGRESS_EVERY_S`` how far it got.

    ``read1`` hands over what has arrived (``iter_content`` waits for a whole chunk and loses
    what it holds when the connection breaks: bytes the next try would ask for again)."""
    done, started = held, time.monotonic()
    said = started
    try:
        while chunk := response.raw.read1(CHUNK_BYTES):
            out.write(chunk)
            done += len(chunk)
            now = time.monotonic()
            if now - said >= PROGRESS_EVERY_S:
                said = now
                rate = (done - held) / (now - started) / 1e6
                log.info("%s: downloaded %.1f of %s MB (%.1f MB/s)", product_id, done / 1e6,
                         f"{total / 1e6:.1f}" if total else "?", rate)
    except urllib3.exceptions.HTTPError as exc:  # as requests would say it
        raise requests.exceptions.ChunkedEncodingError(
            f"{product_id}: connection broken after {done} bytes: {exc}") from exc
    finally:
        out.flush()
        os.fsync(out.fileno())
    if total and done != total:
        raise requests.exceptions.ChunkedEncodingError(
            f"{product_id}: the body ended after {done} of {total} bytes")
