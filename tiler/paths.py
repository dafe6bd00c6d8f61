"""Which hrefs the tiler may open: only those under the configured asset roots.

Every read goes through GDAL, which opens local files, ``/vsi*`` handlers, ``file://`` and any
URL; an open ``url=`` (or an item pointing anywhere) would let clients read the server's disk or
reach other hosts. Local roots are compared after resolving ``..`` and symlinks; URL roots by
prefix, with dot segments refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tiler.errors import AssetMissingError, DatasetNotAllowedError

# Schemes a URL root may use; file:// is never one (it is a local path in disguise).
URL_SCHEMES = frozenset({"http", "https", "s3", "gs", "az"})


def _url_prefix(root: str) -> str:
    parts = urlsplit(root)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


class AssetRoots:
    """A set of local folders and URL prefixes; ``check(href)`` passes hrefs inside them."""

    def __init__(self, roots: Iterable[str]) -> None:
        self.folders: tuple[Path, ...] = ()
        self.prefixes: tuple[str, ...] = ()
        for root in roots:
            scheme = urlsplit(root).scheme.lower()
            if scheme in URL_SCHEMES:
                self.prefixes += (_url_prefix(root),)
            elif not scheme and root.startswith("/"):
                self.folders += (Path(os.path.realpath(root)),)
            else:
                raise ValueError(f"asset root {root!r} is neither an absolute folder nor a URL")

    def _local_ok(self, href: str) -> bool:
        real = Path(os.path.realpath(href))
        return any(real.is_relative_to(folder) for folder in self.folders)

    def _url_ok(self, href: str) -> bool:
        parts = urlsplit(href)
        segments = unquote(parts.path).split("/")
        if "." in segments or ".." in segments:
            return False
        return _url_prefix(href).startswith(self.prefixes) and bool(self.prefixes)

    def allows(self, href: str) -> bool:
        if "\x00" in href:  # no file or URL has one; os.path.realpath raises on it (a 500)
            return False
        scheme = urlsplit(href).scheme.lower()
        if not scheme:
            return href.startswith("/") and self._local_ok(href)
        return scheme in URL_SCHEMES and self._url_ok(href)

    def check(self, href: str) -> str:
        """``href`` itself when it lies under a root, else ``DatasetNotAllowedError`` (403).

        An allowed local path that names no file is ``AssetMissingError`` (404): GDAL would
        fail to open it with an I/O error that titiler answers 500.
        """
        if not self.allows(href):
            raise DatasetNotAllowedError(f"{href!r} is not in a location this tiler serves")
        if not urlsplit(href).scheme and not os.path.isfile(href):
            raise AssetMissingError(f"{href!r} is not a file")
        return href
