"""Downloaded inputs, from the fetch stage of a chain to their removal after its publication.

A product's zip in the inputs folder serves every chain of that product (one per model
version). Each chain that fetches it claims it (a Redis set of chain keys per product); the
publish stage releases its claim, and the zip goes when the last claim is released (unless
``keep_inputs``). Claim and release run under one Redis lock per product, and a chain claims
before it looks for the zip: a release never removes a zip another chain has found or is
downloading. Products read in place are never claimed, so never removed.
"""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis

from ingest.fetch import ProductSource, fetch, zip_path
from ingest.fetch_limits import FetchPaused, check_disk, download_slots
from ingest.resumable_download import DownloadBusy
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)
CLAIM_TTL_S = 30 * 86400  # a chain that never publishes (failed for good) lets go after this


def _claims(product_id: str, settings: IngestSettings) -> str:
    return f"{settings.queue_prefix}earthsig:inputs:claims:{product_id}"


def _lock(connection: Redis, product_id: str, settings: IngestSettings) -> Any:
    return connection.lock(f"{_claims(product_id, settings)}:lock", timeout=60,
                           blocking_timeout=60)


def claim_input(connection: Redis, product_id: str, chain: str,
                settings: IngestSettings) -> None:
    """Mark the input of ``product_id`` as needed by ``chain`` until it releases it."""
    with _lock(connection, product_id, settings):
        key = _claims(product_id, settings)
        connection.sadd(key, chain)
        connection.expire(key, CLAIM_TTL_S)


def release_input(connection: Redis, product_id: str, chain: str,
                  settings: IngestSettings) -> bool:
    """``chain`` has published: drop its claim, and the zip with the last claim (unless
    ``keep_inputs``). True when the zip was removed."""
    with _lock(connection, product_id, settings):
        key = _claims(product_id, settings)
        if not connection.srem(key, chain):
            return False  # never claimed: read in place, or released already
        if connection.scard(key):
            return False  # another model version's chain still needs it
        connection.delete(key)
        target = zip_path(settings.inputs, product_id)
        if settings.keep_inputs or not target.is_file():
            return False
        target.unlink()
        log.info("%s: published, its input %s removed", product_id, target)
        return True


def fetch_claimed(source: ProductSource, chain: str, settings: IngestSettings,
                  connection: Redis, *, dag: Any = None) -> str:
    """``fetch.fetch`` for a chain's fetch stage: claim the input, then download it (unless
    there) within the disk ceiling and the download slots (``FetchPaused`` otherwise)."""
    if source.eodag is None:
        return fetch(source, settings.inputs, dag=dag)  # read in place: nothing to claim
    claim_input(connection, source.product_id, chain, settings)
    target = zip_path(settings.inputs, source.product_id)
    if target.is_file():
        return str(target)
    props = source.eodag.get("properties", {})
    check_disk(settings.inputs, int(props.get("file:size") or 0), settings, connection)
    provider = str(props.get("eodag:provider") or source.eodag.get("provider") or "unknown")
    with download_slots(provider, settings, connection):
        try:
            return fetch(source, settings.inputs, dag=dag)
        except DownloadBusy as exc:  # another chain of the product is downloading it
            raise FetchPaused(str(exc), settings.fetch_pause_s) from exc
