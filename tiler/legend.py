"""Legends of the class colormaps (``clc``, ``cloudmask``): JSON entries and a PNG image.

The PNG is for clients that show an image next to a layer (QGIS's legend, a web page); the
JSON is for clients that draw their own. Both come from ``catalog_schemas``, the same source
as the colormaps, so a legend cannot disagree with the tiles.

The ``clc`` legend lists all 44 CORINE classes unless filtered: ``classes=`` names CLC codes,
``collection=`` keeps the classes the maps of that collection can contain (the union of the
``classification:classes`` of its items' landcover assets, read from pgstac). A legend must
not promise a class no map can show, nor leave out one a map shows: the classes are kept
under the catalog's and the collection's change tokens (tiler.token_cache), which every write
of one of its items marks, so a product's classes are in the legend from the next request
after it is published; without a tile store, after ``legend_cache_ttl`` seconds at most.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache, partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from PIL import Image, ImageDraw, ImageFont
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from pydantic import BaseModel
from starlette.responses import Response

from catalog_schemas import clc, cloudmask
from catalog_schemas.assets import CLC_COLORMAP_NAME, CLOUDMASK_COLORMAP_NAME, LANDCOVER_ASSET
from tiler.errors import CollectionNotFoundError, LegendFilterError
from tiler.tile_store import ChangeTokens, TileStore
from tiler.token_cache import TokenCache, request_tokens

# PNG layout, in pixels.
_ROW, _SWATCH, _PAD, _FONT_SIZE = 20, 14, 6, 12

ALL_GRID_CODES = frozenset(c.grid_code for c in clc.clc_classes())
_GRID_CODE_OF = {str(c.clc_code): c.grid_code for c in clc.clc_classes()}  # "311" -> 23
_CODE = re.compile(r"[0-9]+")


class LegendName(StrEnum):
    clc = CLC_COLORMAP_NAME
    cloudmask = CLOUDMASK_COLORMAP_NAME


class LegendEntry(BaseModel):
    value: int
    code: str
    name: str
    level1: str | None = None
    level2: str | None = None
    color: str
    rgba: tuple[int, int, int, int]


class Legend(BaseModel):
    colormap_name: str
    title: str
    entries: list[LegendEntry]


def _clc_legend(values: Iterable[int] | None) -> Legend:
    wanted = ALL_GRID_CODES if values is None else frozenset(values)
    entries = [
        LegendEntry(value=c.grid_code, code=str(c.clc_code), name=c.name, level1=c.level1,
                    level2=c.level2, color=f"#{c.hex_color}", rgba=(*c.rgb, 255))
        for c in clc.clc_classes() if c.grid_code in wanted
    ]
    return Legend(colormap_name=CLC_COLORMAP_NAME, title="CORINE Land Cover", entries=entries)


def _cloudmask_legend() -> Legend:
    entries = [
        LegendEntry(value=c.value, code=c.name, name=c.description, color=f"#{c.hex_color}",
                    rgba=(*c.rgb, 255))
        for c in cloudmask.CLOUD_CLASSES
    ]
    return Legend(colormap_name=CLOUDMASK_COLORMAP_NAME, title="Cloud mask", entries=entries)


def legend(name: LegendName, values: Iterable[int] | None = None) -> Legend:
    """The legend of a registered class colormap (nodata, which is transparent, left out);
    ``values``: the CLC grid codes to keep (None: all), for ``clc`` only."""
    return _clc_legend(values) if name is LegendName.clc else _cloudmask_legend()


def legend_png(name: LegendName, values: Iterable[int] | None = None) -> bytes:
    """One row per class: a swatch in the tile colour, then code and name."""
    return _legend_png(name, None if values is None else frozenset(values))


@lru_cache(maxsize=128)
def _legend_png(name: LegendName, values: frozenset[int] | None) -> bytes:
    doc = legend(name, values)
    font = ImageFont.load_default(size=_FONT_SIZE)
    labels = [f"{e.code}  {e.name}" for e in doc.entries]
    text_width = max(int(font.getlength(t)) for t in [doc.title, *labels])
    width = _PAD * 3 + _SWATCH + text_width
    height = _PAD * 2 + _ROW * (len(labels) + 1)
    image = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.text((_PAD, _PAD), doc.title, fill=(0, 0, 0, 255), font=font)
    for row, (entry, label) in enumerate(zip(doc.entries, labels, strict=True), start=1):
        top = _PAD + row * _ROW
        draw.rectangle((_PAD, top, _PAD + _SWATCH, top + _SWATCH), fill=entry.rgba,
                       outline=(90, 90, 90, 255))
        draw.text((_PAD * 2 + _SWATCH, top), label, fill=(0, 0, 0, 255), font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def parse_clc_codes(text: str) -> frozenset[int]:
    """The grid codes of ``311,512`` (CLC level-3 codes, comma separated); LegendFilterError
    naming the first part that is not a CLC code."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise LegendFilterError("classes names no CLC code (e.g. classes=311,512)")
    grid_codes = set()
    for part in parts:
        # Digits only: int() would also take "3_11", "+311" or "٣١١".
        code = str(int(part)) if _CODE.fullmatch(part) else part
        if code not in _GRID_CODE_OF:
            raise LegendFilterError(
                f"classes: {part!r} is not a CORINE Land Cover level-3 code (e.g. 311)")
        grid_codes.add(_GRID_CODE_OF[code])
    return frozenset(grid_codes)


# The landcover asset's classes of every item, once per distinct value, as pgstac hydrates
# them: an item stores only what differs from its collection's item_assets (the base item).
_BASE_ASSET_SQL = "SELECT base_item->'assets'->%(asset)s FROM pgstac.collections WHERE id = %(id)s"
_ITEM_CLASSES_SQL = """
SELECT kind, pgstac.merge_jsonb(classes, %(base)s::jsonb) FROM (
    SELECT DISTINCT jsonb_typeof(content->'assets'->%(asset)s) AS kind,
                    content->'assets'->%(asset)s->'classification:classes' AS classes
    FROM pgstac.items WHERE collection = %(id)s
) AS stored
"""


def _grid_codes(classes: Any) -> frozenset[int]:
    """The grid codes of a ``classification:classes`` list; all of them when it is missing or
    unreadable (an older item: what its model could write is unknown)."""
    if not isinstance(classes, list):
        return ALL_GRID_CODES
    values = [entry.get("value") if isinstance(entry, dict) else None for entry in classes]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return ALL_GRID_CODES
    return ALL_GRID_CODES.intersection(values)


def collection_grid_codes(pool: ConnectionPool, collection_id: str) -> frozenset[int]:
    """The CLC grid codes the land-cover maps of a collection can contain: the union of its
    items' landcover ``classification:classes`` (an item without them: all 44; an item without
    a landcover asset: none). CollectionNotFoundError when pgstac has no such collection."""
    params: dict[str, Any] = {"id": collection_id, "asset": LANDCOVER_ASSET}
    with pool.connection() as conn:
        found = conn.execute(_BASE_ASSET_SQL, params).fetchone()
        if found is None:
            raise CollectionNotFoundError(f"collection {collection_id!r} not found")
        base_asset = found[0]
        base = base_asset.get("classification:classes") if isinstance(base_asset, dict) else None
        base_json = Jsonb(base) if base is not None else None
        rows = conn.execute(_ITEM_CLASSES_SQL, {**params, "base": base_json}).fetchall()
    codes: set[int] = set()
    for kind, classes in rows:
        # No asset stored: the item has the base item's (if any). A string: pgstac's marker of
        # an asset the base item has and the item has not.
        if kind == "object" or (kind is None and isinstance(base_asset, dict)):
            codes |= _grid_codes(classes)
    return frozenset(codes)


class CollectionClasses:
    """``collection_grid_codes`` per collection, kept while the collection's change tokens
    are unchanged and ``ttl`` seconds at most (0: read every time).

    A legend is asked for once per page or layer, not per tile, but reading it scans the
    collection's items.
    """

    def __init__(self, ttl: float, maxsize: int = 256) -> None:
        # Made of the collection's items: follows their writes.
        self._codes: TokenCache[str, frozenset[int]] = TokenCache(
            ttl, ChangeTokens.of_collection, maxsize)

    def get(self, pool: ConnectionPool, collection_id: str,
            tokens: ChangeTokens | None = None) -> frozenset[int]:
        # Unknown collections raise and are not kept: a new one is found at once.
        return self._codes.get_or_read(
            collection_id, tokens, partial(collection_grid_codes, pool, collection_id))


def legend_values(
    name: LegendName,
    *,
    classes: str | None = None,
    collection: str | None = None,
    pool: ConnectionPool | None = None,
    cache: CollectionClasses | None = None,
    tokens: ChangeTokens | None = None,
) -> frozenset[int] | None:
    """The grid codes a filtered legend keeps (None: no filter, all): those of ``classes``
    (CLC codes, comma separated) that the maps of ``collection`` can contain (from ``cache``,
    if any, under the request's ``tokens``).

    LegendFilterError (400) for a bad ``classes`` or a filter on another legend than ``clc``;
    CollectionNotFoundError (404) for an unknown collection.
    """
    if name is not LegendName.clc:
        if classes is not None or collection is not None:
            raise LegendFilterError(f"collection and classes filter the {CLC_COLORMAP_NAME} "
                                    f"legend only, not {name.value}")
        return None
    wanted = None if classes is None else parse_clc_codes(classes)
    if collection is None:
        return wanted
    if pool is None:
        raise ValueError("a collection filter needs the database pool")
    in_collection = (cache.get(pool, collection, tokens) if cache is not None
                     else collection_grid_codes(pool, collection))
    return in_collection if wanted is None else wanted & in_collection


CollectionQuery = Annotated[str | None, Query(
    description="Only the classes the maps of this STAC collection can contain (the union of "
                "its items' landcover `classification:classes`); `clc` legend only."
)]
ClassesQuery = Annotated[str | None, Query(
    description="Only these CORINE level-3 codes, comma separated (e.g. `311,512`); combined "
                "with `collection`, the classes in both. `clc` legend only."
)]


def add_legend_routes(app: FastAPI, cache_ttl: float = 60.0,
                      store: TileStore | None = None) -> None:
    """``/legends/{name}`` (JSON) and ``/legends/{name}.png``, both with the filters of
    ``legend_values`` (``collection=``, ``classes=``); a collection's classes are kept under
    ``store``'s change tokens."""
    router = APIRouter(prefix="/legends", tags=["Legends"])
    cache = CollectionClasses(cache_ttl)
    # What a collection can contain changes with the catalog: no hour-long proxy cache.
    collection_cachecontrol = f"public, max-age={int(cache_ttl)}" if cache_ttl else "no-cache"

    def headers(collection: str | None) -> dict[str, str]:
        return {"Cache-Control": collection_cachecontrol} if collection is not None else {}

    async def change_tokens(request: Request,
                            collection: CollectionQuery = None) -> ChangeTokens | None:
        # Read in the event loop, before the route's thread reads the catalog.
        if collection is None:
            return None
        return await request_tokens(store, request.scope, collection)

    def values(request: Request, name: LegendName, collection: str | None,
               classes: str | None, tokens: ChangeTokens | None) -> frozenset[int] | None:
        return legend_values(name, classes=classes, collection=collection,
                             pool=request.app.state.dbpool, cache=cache, tokens=tokens)

    # Registered first: ``{name}`` alone would also match ``clc.png``.
    @router.get("/{name}.png", response_class=Response,
                responses={200: {"content": {"image/png": {}}}})
    def legend_image(request: Request, name: LegendName, collection: CollectionQuery = None,
                     classes: ClassesQuery = None,
                     tokens: ChangeTokens | None = Depends(change_tokens),  # noqa: B008
                     ) -> Response:
        image = legend_png(name, values(request, name, collection, classes, tokens))
        return Response(image, media_type="image/png", headers=headers(collection))

    @router.get("/{name}", response_model=Legend)
    def legend_json(request: Request, response: Response, name: LegendName,
                    collection: CollectionQuery = None, classes: ClassesQuery = None,
                    tokens: ChangeTokens | None = Depends(change_tokens),  # noqa: B008
                    ) -> Legend:
        doc = legend(name, values(request, name, collection, classes, tokens))
        response.headers.update(headers(collection))
        return doc

    app.include_router(router)
