"""The asset store: a local folder (default) or S3-compatible object storage, one interface.

A run's files are written locally into a staging folder first (GDAL and rio-cogeo need a
file system), then committed as one run under ``<collection>/<item>/<run>/``:

- local: the staging folder is renamed into place (atomic);
- S3: the files are uploaded under the run's prefix; nothing points there until the item is
  registered, which is what makes the commit atomic for readers.

The whole sequence (stage, checksum, commit, register, prune) is ``ingest.catalog.publisher``.

After registration the earlier runs of the item are pruned; if registration fails the new run
is discarded. Only *earlier* runs: run ids sort by time, and a later run (or a staging folder
still being written) belongs to a twin of this chain running at the same time (a re-run, or a
job a sweep put back while it was in fact alive), which prunes this run when it registers.

Hrefs are what every reader resolves: absolute paths locally, and for S3 either
``s3://bucket/key`` (GDAL with AWS settings) or a public HTTP(S) base URL when one is set.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from ingest.errors import TransientError
from ingest.outputs.staging import STAGING_PREFIX, rename_into_place, staging_abandoned
from ingest.settings import IngestSettings


class AssetStore(Protocol):
    def staging_parent(self, item: str) -> Path:
        """Where to stage a run's files locally (same file system as the final place)."""
        ...

    def commit_run(self, staging: Path, run: str) -> dict[str, str]:
        """Make the files of ``staging`` the run ``run`` (a path under the store's root);
        return file name -> href."""
        ...

    def href(self, run: str, name: str) -> str: ...

    def discard(self, run: str) -> None: ...

    def prune(self, item: str, keep: str) -> None:
        """Remove the runs of ``item`` (a path under the root) made before ``keep``."""
        ...


def _run_name(run: str) -> str:
    return run.rstrip("/").rsplit("/", 1)[-1]


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def staging_parent(self, item: str) -> Path:
        return self.root / item  # a rename within one file system is atomic

    def href(self, run: str, name: str) -> str:
        return str(self.root / run / name)

    def commit_run(self, staging: Path, run: str) -> dict[str, str]:
        rename_into_place(staging, self.root / run)
        return {p.name: self.href(run, p.name) for p in (self.root / run).iterdir()}

    def discard(self, run: str) -> None:
        shutil.rmtree(self.root / run, ignore_errors=True)

    def prune(self, item: str, keep: str) -> None:
        kept = _run_name(keep)
        for child in (self.root / item).iterdir():
            if child.name.startswith(STAGING_PREFIX):
                if not staging_abandoned(child):  # a twin run still writing
                    continue
            elif child.name >= kept:
                continue
            shutil.rmtree(child, ignore_errors=True)


class S3Store:
    """Objects under ``s3://bucket/prefix``; credentials from the usual AWS_* variables."""

    def __init__(self, url: str, *, staging: Path, endpoint_url: str | None = None,
                 public_url: str | None = None) -> None:
        import boto3

        self.staging = staging
        parsed = urlparse(url)
        self.bucket, self.prefix = parsed.netloc, parsed.path.strip("/")
        self.public_url = public_url.rstrip("/") if public_url else None
        self.client = boto3.client("s3", endpoint_url=endpoint_url)

    def staging_parent(self, item: str) -> Path:
        return self.staging

    def _key(self, run: str, name: str = "") -> str:
        return "/".join(p for p in (self.prefix, run, name) if p)

    def href(self, run: str, name: str) -> str:
        key = self._key(run, name)
        if self.public_url:
            return f"{self.public_url}/{key}"
        return f"s3://{self.bucket}/{key}"

    def commit_run(self, staging: Path, run: str) -> dict[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        hrefs = {}
        try:
            for path in sorted(staging.iterdir()):
                self.client.upload_file(str(path), self.bucket, self._key(run, path.name))
                hrefs[path.name] = self.href(run, path.name)
        except (BotoCoreError, ClientError) as exc:
            self.discard(run)
            raise TransientError(f"upload to s3://{self.bucket} failed: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return hrefs

    def _delete_prefix(self, prefix: str, before: str | None = None) -> None:
        """Delete the objects under ``prefix``; with ``before``, only those of runs (the first
        path segment after the prefix) whose id sorts before it."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            doomed = [{"Key": o["Key"]} for o in page.get("Contents", [])
                      if before is None or o["Key"][len(prefix):].split("/", 1)[0] < before]
            if doomed:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": doomed})

    def discard(self, run: str) -> None:
        self._delete_prefix(self._key(run) + "/")

    def prune(self, item: str, keep: str) -> None:
        self._delete_prefix(self._key(item) + "/", before=_run_name(keep))


def asset_store(settings: IngestSettings) -> AssetStore:
    if settings.asset_store_url:
        return S3Store(settings.asset_store_url, staging=settings.home.resolve() / "staging",
                       endpoint_url=settings.s3_endpoint_url,
                       public_url=settings.asset_public_url)
    return LocalStore(settings.assets)
