"""Keeping a collection's low-zoom pyramid current as products land (the contract:
``catalog_schemas/pyramid.py``).

After a product is registered, the collection's default map over it is read from the tiler at
the pyramid's base zoom as class codes (``.npy`` tiles of the ``landcover`` asset, nearest,
clouds filled from older products, the active model versions: the tiler's own rules), then
each tile above it, up to zoom 0, is composed again from its four children. A product touches
a handful of base tiles and one or two tiles a zoom above them: well under a second of work
besides the base tiles' drawing. A lock on the pyramid folder keeps two workers' updates of
the same upper tiles from interleaving. Like seeding, a tiler that is down costs a warning,
never the product.
"""

from __future__ import annotations

import fcntl
import io
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import morecantile
import numpy as np

from catalog_schemas.assets import LANDCOVER_ASSET
from catalog_schemas.pyramid import BASE_ZOOM, compose, parents, pyramid_root, write_tile
from tile_generations import ItemChange

log = logging.getLogger(__name__)

WMQ = morecantile.tms.get("WebMercatorQuad")
BASE_CONCURRENCY = 4  # base tiles drawn at once by the tiler
PROGRESS_EVERY = 100


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def base_codes(client: httpx.Client, collection: str, x: int, y: int) -> np.ndarray:
    """The collection's default map at the base zoom as grid codes (0: nothing there)."""
    answer = client.get(
        f"/collections/{quote(collection, safe='')}/tiles/WebMercatorQuad/{BASE_ZOOM}/{x}/{y}.npy",
        params={"assets": LANDCOVER_ASSET, "resampling": "nearest", "mask_clouds": "true"},
        # From the catalog as it is now: the product just registered, not a cached tile.
        headers={"Cache-Control": "no-cache"})
    if answer.status_code in (204, 404):  # no item there (any more)
        return np.zeros((256, 256), np.uint8)
    answer.raise_for_status()
    stacked = np.load(io.BytesIO(answer.content))  # the band, then rio-tiler's mask
    codes = np.asarray(stacked[0], dtype=np.uint8).copy()
    codes[stacked[-1] == 0] = 0
    return codes


def base_tiles(bbox: tuple[float, float, float, float]) -> set[tuple[int, int]]:
    """The pyramid's base tiles (x, y) over a WGS84 bbox."""
    return {(t.x, t.y) for t in WMQ.tiles(*bbox, zooms=[BASE_ZOOM], truncate=True)}


def update_pyramid(item: dict[str, Any], tiler_url: str, asset_root: Path,
                   timeout_s: float = 60.0) -> int:
    """Redraw the pyramid over ``item``: its base tiles from the tiler, every tile above them
    composed again. Returns the number of tiles written."""
    bbox = ItemChange.of(item).bbox
    if bbox is None:
        return 0
    return redraw(item["collection"], base_tiles(bbox), tiler_url, asset_root, timeout_s)


def redraw(collection: str, tiles: set[tuple[int, int]], tiler_url: str, asset_root: Path,
           timeout_s: float = 60.0) -> int:
    """Redraw the base ``tiles`` of ``collection``'s pyramid and every tile above them."""
    root = pyramid_root(asset_root, collection)
    level = set(tiles)
    written = 0
    with _locked(root), httpx.Client(base_url=tiler_url.rstrip("/"),
                                     timeout=timeout_s) as client:
        def draw(tile: tuple[int, int]) -> None:
            write_tile(root, BASE_ZOOM, *tile, base_codes(client, collection, *tile))

        # Base tiles a few at a time: the tiler overlaps their reads (a whole catalog's
        # rebuild is thousands of them); each writes its own file.
        with ThreadPoolExecutor(BASE_CONCURRENCY) as pool:
            for done, _ in enumerate(pool.map(draw, sorted(level)), 1):
                if done % PROGRESS_EVERY == 0:
                    log.info("%s pyramid: %d/%d base tiles drawn", collection, done, len(level))
        written += len(level)
        for z in range(BASE_ZOOM - 1, -1, -1):
            level = parents(level)
            for x, y in sorted(level):
                write_tile(root, z, x, y, compose(root, z, x, y))
                written += 1
    return written


def update_pyramid_quietly(item: dict[str, Any], tiler_url: str, asset_root: Path) -> None:
    """:func:`update_pyramid` as a publish step: a failure is a warning, not the product's."""
    t0 = time.monotonic()
    try:
        count = update_pyramid(item, tiler_url, asset_root)
    except (httpx.HTTPError, OSError, ValueError) as exc:
        log.warning("%s: low-zoom pyramid not updated (%s); the next product over it will",
                    item.get("id"), exc)
        return
    log.info("%s: low-zoom pyramid updated, %d tiles in %.1f s", item.get("id"), count,
             time.monotonic() - t0)


def redraw_after_write(collection: str, bboxes: list[list[float]] | None) -> int:
    """The job the STAC API queues after items were written through its transactions
    (``stac_api/pyramid_jobs.py``): redraw ``collection``'s pyramid over ``bboxes`` (the
    footprints before and after the write), or all of it when they are unknown. Drawn through
    the worker's tiler (``EARTHSIG_SEED_TILER_URL``) into its local asset store, as after a
    publish; a collection without a pyramid is left without one (``earthsig tiles pyramid``
    builds it whole, never from one write's footprint)."""
    from ingest.settings import IngestSettings

    settings = IngestSettings()
    root = pyramid_root(settings.assets, collection)
    if not settings.seed_tiler_url or settings.asset_store_url or not root.is_dir():
        log.warning("%s: low-zoom pyramid not redrawn after a write through the API (%s)",
                    collection, "no pyramid" if not root.is_dir() else
                    "no EARTHSIG_SEED_TILER_URL" if not settings.seed_tiler_url else
                    "the asset store is S3")
        return 0
    t0 = time.monotonic()
    if bboxes is None:  # the database from the worker's libpq variables
        count = rebuild_pyramid("", collection, settings.seed_tiler_url, settings.assets)
    else:
        tiles = set().union(*(base_tiles((b[0], b[1], b[2], b[3])) for b in bboxes))
        count = (redraw(collection, tiles, settings.seed_tiler_url, settings.assets)
                 if tiles else 0)
    log.info("%s: low-zoom pyramid redrawn after a write through the API, %d tiles in %.1f s",
             collection, count, time.monotonic() - t0)
    return count


def rebuild_pyramid(dsn: str, collection: str, tiler_url: str, asset_root: Path) -> int:
    """The whole pyramid of ``collection`` from every item's footprint (a catalog registered
    before the pyramid existed, or items removed): each base tile drawn once."""
    from ingest.catalog.pgstac_db import pgstac_session

    with pgstac_session(dsn) as db:
        rows = db.query("SELECT ST_XMin(geometry), ST_YMin(geometry), ST_XMax(geometry), "
                        "ST_YMax(geometry) FROM items WHERE collection = %s", [collection])
        tiles = set().union(*(base_tiles(tuple(map(float, r))) for r in rows))  # type: ignore[arg-type]
    root = pyramid_root(asset_root, collection)
    with _locked(root):
        for stale in sorted([*root.glob("*/*/*.png"), *root.glob("*/*/*.npz")]):
            stale.unlink()  # tiles of removed items go too (.npz: the first storage format)
    return redraw(collection, tiles, tiler_url, asset_root) if tiles else 0
