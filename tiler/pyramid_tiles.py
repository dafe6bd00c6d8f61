"""Zooms 0-7 of a collection's map from its pyramid (catalog_schemas/pyramid.py), never from
the items: at those zooms one tile spans hundreds of products.

The pipeline keeps the pyramid current as products land; here a tile is one small file read
and sent as it is (the pyramid stores paletted PNGs in the CLC colours: no decoding, colouring
or encoding per request). Only the
collection's default map is kept (latest, active model versions, clouds filled from older
products), so a request asking for another map below the base zoom (a date, a model, ids, a
filter, another layer) goes on to the mosaic backend, which refuses it as before. A tile the
pyramid does not have is transparent: nothing has been published there. A collection without
a pyramid (none built yet: ``earthsig tiles pyramid``) keeps the refusal, never a blank map
over products; with one, its TileJSON and WMTS announce zoom 0 (tiler/backend.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog_schemas.assets import LANDCOVER_ASSET
from catalog_schemas.pyramid import BASE_ZOOM, TILE, empty_tile, pyramid_root, read_tile_bytes
from tiler.colormaps import CLC_COLORMAP_NAME

_LOW_TILE = re.compile(r"/collections/(?P<collection>[^/]+)/tiles/WebMercatorQuad/"
                       r"(?P<z>\d+)/(?P<x>\d+)/(?P<y>\d+)(@1x)?(\.png)?$")
# Parameters that choose another map than the default one the pyramid keeps.
_OTHER_MAP = {"datetime", "ids", "bbox", "filter", "filter-lang", "query", "model",
              "expression", "bidx", "render", "colormap", "rescale", "color_formula"}
# The default map's own parameters, with the values it is drawn with (the collection render).
_DEFAULT_VALUES = {"assets": {LANDCOVER_ASSET}, "colormap_name": {CLC_COLORMAP_NAME},
                   "mask_clouds": {"true", "True", "1"}, "tilesize": {str(TILE)}}
CACHE_CONTROL = "public, max-age=300"  # a new product changes the tiles above it




def default_map(query: list[tuple[str, str]]) -> bool:
    """Whether a query asks for the default map (the one the pyramid holds)."""
    for key, value in query:
        if key in _OTHER_MAP or (key in _DEFAULT_VALUES and value not in _DEFAULT_VALUES[key]):
            return False
    return True


def has_pyramid(store: Path, collection: str, query: list[tuple[str, str]]) -> bool:
    """Whether a request's map is ``collection``'s default one and a pyramid of it exists."""
    return default_map(query) and pyramid_root(store, collection).is_dir()


def _as_query(values: dict[str, Any]) -> list[tuple[str, str]]:
    return [(key, str(v)) for key, value in values.items()
            for v in (value if isinstance(value, list | tuple) else [value])]


def with_pyramid_zooms(renders: dict[str, dict[str, Any]], maxzoom: int,
                       tms_id: str = "WebMercatorQuad") -> dict[str, dict[str, Any]]:
    """A collection's renders as WMTS layers: the one the pyramid holds announces zooms from
    0 in ``tms_id`` (titiler's ``tilematrixsets`` render key), the others keep the mosaic's."""
    return {name: ({**values, "tilematrixsets": {tms_id: (0, maxzoom)}}
                   if default_map(_as_query(values)) else values)
            for name, values in renders.items()}


class PyramidTilesMiddleware:
    """Answer a collection's tiles below the base zoom from its pyramid."""

    def __init__(self, app: ASGIApp, store: Path, base_zoom: int = BASE_ZOOM) -> None:
        self.app, self.store, self.base_zoom = app, store, base_zoom

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _LOW_TILE.search(scope.get("path", "")) if scope["type"] == "http" else None
        if (match is None or int(match["z"]) >= self.base_zoom
                or scope.get("method") not in ("GET", "HEAD")):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        if not has_pyramid(self.store, match["collection"], query):
            await self.app(scope, receive, send)
            return
        z, x, y = int(match["z"]), int(match["x"]), int(match["y"])
        root = pyramid_root(self.store, match["collection"])
        stored = await run_in_threadpool(read_tile_bytes, root, z, x, y)
        response = Response(stored or empty_tile(), media_type="image/png", headers={
            "Cache-Control": CACHE_CONTROL, "X-Pyramid": "tile" if stored else "empty"})
        await response(scope, receive, send)

