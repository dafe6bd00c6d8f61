"""Change tokens of a catalog, per item and per map cell, kept in Redis for tile stores.

A tile drawn from the catalog stays right until an item under it changes, which may be hours
or months. Every writer of the catalog (registration, retire, the STAC API's transactions)
sets a fresh token, after its write, on each key a changed item touches:

- the item's own key (its single-item tiles);
- the WebMercatorQuad cells its bbox covers at zooms 0 to ``CELL_MAXZOOM`` (mosaic tiles: a
  mosaic tile changes only when an item intersecting it does; a tile deeper than the cells
  uses its ancestor cell);
- the key of the item's collection (what the collection's document says of its items, such
  as the model versions they come from, ``summaries.earthsig:model``, may have changed with
  them; the tiler's choice of model versions is read under it, not its tiles);
- the catalog key when a collection's definition changed (its default render may differ).

A tile store keeps, beside each tile, the tokens it read *before* reading the catalog, and
serves the tile again only while they are unchanged: a write after that read changes a token,
so the tile is drawn again; a tile drawn from data older than the latest token is never kept
under it. Tokens are random (not counters), so one that expired and was set again can never
match an old tile.

Keys are namespaced by the database (its name and oid), so catalogs sharing one Redis, such as
test databases or a re-created one, never see each other's tiles.

A top-level package of its own, beside the data contract (``catalog_schemas``, pystac only):
it talks to Redis, and its users are the catalog's writers (``ingest``, ``stac_api``) and the
tile store (``tiler``), none of which may import another.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import morecantile
from redis import Redis

PREFIX = "earthsig:tiles"
# Cells down to z12 (about 7 km at 45 N): Europe is some 300 000 keys at most.
CELL_MAXZOOM = 12
# A cell count past this (a continent-sized item) marks the whole catalog instead.
MAX_CELLS = 20_000
# Tokens outlive any tile kept under them (a store's time to live is at most this).
TOKEN_TTL_S = 30 * 86400
WMQ = morecantile.tms.get("WebMercatorQuad")

# The database's identity as every client sees it, whatever host name it connects by.
NAMESPACE_SQL = ("SELECT current_database() || '.' || oid::text FROM pg_database "
                 "WHERE datname = current_database()")


@dataclass(frozen=True)
class ItemChange:
    """An item written or deleted: what its tiles depend on."""

    collection: str
    item_id: str
    bbox: tuple[float, float, float, float] | None

    @classmethod
    def of(cls, item: dict[str, Any]) -> ItemChange:
        """From a STAC item (dict); a 3D bbox is taken in 2D, a missing one as None."""
        bbox = item.get("bbox")
        flat = None
        if bbox and len(bbox) in (4, 6):
            half = len(bbox) // 2
            flat = (float(bbox[0]), float(bbox[1]), float(bbox[half]), float(bbox[half + 1]))
        return cls(str(item.get("collection") or ""), str(item["id"]), flat)


def catalog_key(namespace: str) -> str:
    return f"{PREFIX}:{namespace}:catalog"


def item_key(namespace: str, collection: str, item_id: str) -> str:
    return f"{PREFIX}:{namespace}:item:{collection}/{item_id}"


def collection_key(namespace: str, collection: str) -> str:
    return f"{PREFIX}:{namespace}:collection:{collection}"


def cell_key(namespace: str, z: int, x: int, y: int) -> str:
    return f"{PREFIX}:{namespace}:cell:{z}/{x}/{y}"


def cell_of_tile(z: int, x: int, y: int) -> tuple[int, int, int]:
    """The cell whose token a WebMercatorQuad tile depends on: itself, or its ancestor."""
    if z <= CELL_MAXZOOM:
        return z, x, y
    shift = z - CELL_MAXZOOM
    return CELL_MAXZOOM, x >> shift, y >> shift


def cells_under(bbox: tuple[float, float, float, float]) -> Iterator[tuple[int, int, int]]:
    """The cells a lon/lat bbox touches at every zoom to ``CELL_MAXZOOM`` (antimeridian: both
    sides)."""
    west, south, east, north = bbox
    parts = [(west, south, east, north)] if west <= east else [
        (west, south, 180.0, north), (-180.0, south, east, north)]
    for part in parts:
        for tile in WMQ.tiles(*part, zooms=list(range(CELL_MAXZOOM + 1)), truncate=True):
            yield tile.z, tile.x, tile.y


def changed_keys(namespace: str, changes: Iterable[ItemChange]) -> set[str] | None:
    """Every key the changes touch; None when so many cells that the catalog key is cheaper."""
    keys: set[str] = set()
    cells: set[tuple[int, int, int]] = set()
    for change in changes:
        keys.add(item_key(namespace, change.collection, change.item_id))
        keys.add(collection_key(namespace, change.collection))
        for cell in cells_under(change.bbox) if change.bbox is not None else ():
            cells.add(cell)
            if len(cells) > MAX_CELLS:  # zoom by zoom: stops before listing a continent's
                return None
    keys.update(cell_key(namespace, *cell) for cell in cells)
    return keys


def new_token() -> str:
    return f"{time.time_ns():x}-{os.urandom(4).hex()}"


def mark_changed(redis: Redis, namespace: str, changes: Iterable[ItemChange], *,
                 catalog: bool = False) -> int:
    """Set a fresh token on every key the changes touch (all tiles when ``catalog``).

    Call it after the write is committed. Returns the number of keys set.
    """
    keys = None if catalog else changed_keys(namespace, changes)
    if keys is None:
        keys = {catalog_key(namespace)}
    token = new_token()
    with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.set(key, token, ex=TOKEN_TTL_S)
        pipe.execute()
    return len(keys)
