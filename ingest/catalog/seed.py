"""Drawing a published product's tiles ahead, so its first map user gets them from the tiler's
tile store (tiler.tile_store) instead of waiting for them to be drawn.

After registration, the tiler is asked for the product's own tiles and its collection's mosaic
tiles over it, at the configured zooms, in the bare URL form of docs/qgis.md; the tiler keys
its store by the query once the collection's default render is filled in, so the ``xyz`` URL
`make demo` prints (which names that render) finds the same tiles. The store keeps them until
the catalog under them changes. Seeding is an optimisation: a tiler that is down or slow costs
a warning, never the product.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import morecantile

from tile_generations import ItemChange

log = logging.getLogger(__name__)

WMQ = morecantile.tms.get("WebMercatorQuad")
CONCURRENCY = 4
# Seeding runs in the publish job after registration: bounded well inside its time limit.
BUDGET_S = 120.0
MAX_WARNINGS = 3
_SKIPPED = -1


def parse_zooms(text: str) -> range:
    """``"8-12"`` as range(8, 13); ``""`` as an empty range."""
    if not text:
        return range(0)
    low, high = (int(part) for part in text.split("-"))
    if low > high:
        raise ValueError(f"zoom range {text!r}: the first zoom must not exceed the second")
    return range(low, high + 1)


def tile_paths(item: dict[str, Any], item_zooms: range, mosaic_zooms: range) -> list[str]:
    """The tile URLs (path and query) of ``item``'s own tiles and its collection's mosaic."""
    bbox = ItemChange.of(item).bbox  # 2D, whatever the item's
    if bbox is None:
        return []
    collection = quote(item["collection"], safe="")
    item_tiles = f"/collections/{collection}/items/{quote(item['id'], safe='')}/tiles"
    paths = []
    for base, zooms in ((item_tiles, item_zooms), (f"/collections/{collection}/tiles",
                                                   mosaic_zooms)):
        for tile in WMQ.tiles(*bbox, zooms=list(zooms), truncate=True) if zooms else ():
            paths.append(f"{base}/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png")
    return paths


@dataclass(frozen=True)
class SeedResult:
    drawn: int  # 200: now in the store
    empty: int  # 204 (no data there) or outside the raster
    failed: int
    skipped: int  # not asked: out of time, or the tiler unreachable
    seconds: float


def seed_item(item: dict[str, Any], tiler_url: str, item_zooms: str, mosaic_zooms: str,
              budget_s: float = BUDGET_S) -> SeedResult:
    """Draw ``item``'s tiles ahead on the tiler; never raises (seeding is an optimisation)."""
    try:
        paths = tile_paths(item, parse_zooms(item_zooms), parse_zooms(mosaic_zooms))
        return seed_tiles(tiler_url, paths, what=item["id"], budget_s=budget_s)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the product is published
        log.warning("seed %s: not drawn ahead (%s)", item.get("id"), exc)
        return SeedResult(0, 0, 0, 0, 0.0)


def seed_tiles(tiler_url: str, paths: Iterable[str], *, what: str = "",
               budget_s: float = BUDGET_S, timeout_s: float = 30.0) -> SeedResult:
    """GET every path from the tiler, ``CONCURRENCY`` at a time, for at most ``budget_s``;
    stop at the first connection failure; log counts and rate."""
    paths = list(paths)
    t0 = time.monotonic()
    deadline = t0 + budget_s
    stop = threading.Event()
    warnings_left = [MAX_WARNINGS]

    def warn(message: str, *args: object) -> None:
        if warnings_left[0] > 0:
            warnings_left[0] -= 1
            log.warning("seed %s: " + message, what, *args)

    with httpx.Client(base_url=tiler_url.rstrip("/"), timeout=timeout_s) as client:

        def get(path: str) -> int:
            if stop.is_set() or time.monotonic() > deadline:
                return _SKIPPED
            try:
                response = client.get(path)
            except httpx.TransportError as exc:  # the tiler is not there: no use going on
                stop.set()
                warn("tiler %s unreachable, stopping: %s", tiler_url, exc)
                return 0
            if response.status_code == 404 and "outside bounds" in response.text:
                return 204  # a bbox edge tile beyond the raster itself: nothing to draw
            if response.status_code not in (200, 204):
                warn("%s: %d %s", path, response.status_code, response.text[:200])
            return response.status_code

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            statuses = list(pool.map(get, paths))
    seconds = time.monotonic() - t0
    skipped = statuses.count(_SKIPPED)
    result = SeedResult(statuses.count(200), statuses.count(204),
                        len(statuses) - skipped - statuses.count(200) - statuses.count(204),
                        skipped, seconds)
    level = logging.WARNING if result.failed or result.skipped else logging.INFO
    log.log(level, "seed %s: %d tiles drawn, %d empty, %d failed, %d not asked in %.1f s "
            "(%.1f tiles/s)", what, result.drawn, result.empty, result.failed, result.skipped,
            seconds, (len(paths) - skipped) / seconds if seconds > 0 else 0.0)
    return result
