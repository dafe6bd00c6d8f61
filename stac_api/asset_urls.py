"""Asset hrefs as public URLs: the local store's paths become ``<base>/<path in the store>``.

Items are registered with the store's own paths (the tiler reads them from disk, fast); the API
answers them as URLs of the tiler's ``/assets/`` route (or any public base), so a STAC client
on another machine opens what it finds. The mapping is applied on the way out, never stored:
a new hostname is one setting, not a million re-registered items, and catalogs registered
before it are served as URLs unchanged. Hrefs outside the store (S3 URLs, the source
product's own) pass as they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class AssetUrls:
    """The store folder (resolved) and the public base URL (no trailing slash)."""

    store: Path
    base: str

    def href(self, href: str) -> str:
        """``href`` as a public URL when it is a file in the store, else unchanged."""
        if not href.startswith("/"):
            return href
        path = Path(os.path.normpath(href))
        if not path.is_relative_to(self.store):
            return href
        return f"{self.base}/{quote(path.relative_to(self.store).as_posix())}"

    def rewrite(self, document: Any) -> None:
        """In place: the asset hrefs of an item, an item collection, a collection or a list
        of collections (the shapes the API answers)."""
        if not isinstance(document, dict):
            return
        for feature in document.get("features") or []:
            self._assets(feature)
        for collection in document.get("collections") or []:
            self._assets(collection)
        if document.get("type") in ("Feature", "Collection"):
            self._assets(document)

    def _assets(self, document: Any) -> None:
        if not isinstance(document, dict):
            return
        for asset in (document.get("assets") or {}).values():
            if isinstance(asset, dict) and isinstance(asset.get("href"), str):
                asset["href"] = self.href(asset["href"])
