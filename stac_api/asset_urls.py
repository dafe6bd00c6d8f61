"""Asset hrefs as public URLs: the local store's paths become ``<base>/<path in the store>``.

Items are registered with the store's own paths (the tiler reads them from disk, fast); the API
answers them as URLs of the tiler's ``/assets/`` route (or any public base), so a STAC client
on another machine opens what it finds. The mapping is applied on the way out, never stored:
a new hostname is one setting, not a million re-registered items, and catalogs registered
before it are served as URLs unchanged. Hrefs outside the store (the source product's own)
pass as they are; ``s3://`` hrefs (an S3 store without a public URL) become presigned HTTPS
URLs where the settings ask for it (``S3Presigner``).

``derived_from`` links name server paths too (the model's MLM document, a local source
product), which upstream answers joined onto the API's own URL (404s). The model's becomes the
tiler's ``/models/`` URL; a local file with no URL is left out of the answer, rather than
linked to a document no client can fetch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit


class S3Presigner:
    """``s3://bucket/key`` -> a presigned HTTPS GET URL (boto3: a local signature, no call)."""

    def __init__(self, expiry_s: int, endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.expiry_s = expiry_s
        # Signature version 4: what every AWS region and S3-compatible server accepts.
        self.client = boto3.client("s3", endpoint_url=endpoint_url,
                                   config=Config(signature_version="s3v4"))

    def __call__(self, href: str) -> str:
        parts = urlsplit(href)
        return str(self.client.generate_presigned_url(
            "get_object", Params={"Bucket": parts.netloc, "Key": parts.path.lstrip("/")},
            ExpiresIn=self.expiry_s))


@dataclass(frozen=True)
class AssetUrls:
    """The store folder (resolved) and the public base URL (no trailing slash)."""

    store: Path
    base: str | None
    models: Path | None = None  # the model repository, served at ``models_base``
    models_base: str | None = None
    presign: Callable[[str], str] | None = None  # s3:// hrefs -> presigned URLs

    def href(self, href: str) -> str:
        """``href`` as a public URL when it is a file in the store (or an S3 object to
        presign), else unchanged."""
        if self.presign is not None and href.startswith("s3://"):
            return self.presign(href)
        if not href.startswith("/") or self.base is None:
            return href
        path = Path(os.path.normpath(href))
        if not path.is_relative_to(self.store):
            return href
        return f"{self.base}/{quote(path.relative_to(self.store).as_posix())}"

    def rewrite(self, document: Any, api_host: str | None = None) -> None:
        """In place: the asset hrefs (and ``derived_from`` links) of an item, an item
        collection, a collection or a list of collections (the shapes the API answers);
        ``api_host``: the API's own host:port, which upstream put before server paths."""
        if not isinstance(document, dict):
            return
        for feature in document.get("features") or []:
            self._item(feature, api_host)
        for collection in document.get("collections") or []:
            self._assets(collection)
        if document.get("type") == "Feature":
            self._item(document, api_host)
        elif document.get("type") == "Collection":
            self._assets(document)

    def _item(self, item: Any, api_host: str | None) -> None:
        if not isinstance(item, dict):
            return
        self._assets(item)
        links = item.get("links")
        if isinstance(links, list):
            item["links"] = [ln for ln in (self._link(ln, api_host) for ln in links) if ln]

    def _link(self, link: Any, api_host: str | None) -> Any:
        if not isinstance(link, dict) or link.get("rel") != "derived_from" \
                or not isinstance(link.get("href"), str):
            return link
        parts = urlsplit(link["href"])
        if parts.scheme and parts.netloc != api_host:
            return link  # a real URL elsewhere (the source product's STAC item)
        path = unquote(parts.path) if parts.scheme else link["href"]
        url = self.href(path)
        if url == path and self.models is not None and self.models_base:
            local = Path(os.path.normpath(path))
            if local.is_relative_to(self.models):
                url = f"{self.models_base}/{quote(local.relative_to(self.models).as_posix())}"
        return {**link, "href": url} if url != path else None

    def _assets(self, document: Any) -> None:
        if not isinstance(document, dict):
            return
        for asset in (document.get("assets") or {}).values():
            if isinstance(asset, dict) and isinstance(asset.get("href"), str):
                asset["href"] = self.href(asset["href"])
