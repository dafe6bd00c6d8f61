"""Legend test helpers: the swatches of a legend PNG, the classes pgstac serves for items."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from catalog_schemas.assets import LANDCOVER_ASSET
from tests.tiles import decode_png
from tiler.timeseries import PGSTAC_OPTIONS

# tiler/legend.py: 6 px padding, a title row, then 20 px rows whose 14 px swatch starts at x=6.
_PAD, _ROW, _SWATCH = 6, 20, 14


def swatch_colours(content: bytes) -> list[tuple[int, ...]]:
    """RGB at the centre of every row's swatch, top to bottom (the title row left out)."""
    image = decode_png(content)
    rows = (image.shape[1] - 2 * _PAD) // _ROW - 1
    centre = _SWATCH // 2
    return [tuple(int(v) for v in image[:3, _PAD + row * _ROW + centre, _PAD + centre])
            for row in range(1, rows + 1)]


def served_classes(dsn: str, collection_id: str) -> list[list[dict] | None]:
    """The landcover ``classification:classes`` of a collection's items as pgstac serves them
    (hydrated: the STAC API's answer), None for an item without."""
    with psycopg.connect(dsn, options=PGSTAC_OPTIONS) as conn:
        found = conn.execute("SELECT pgstac.search(%s)",
                             (Jsonb({"collections": [collection_id], "limit": 100}),)).fetchone()
    return [f["assets"][LANDCOVER_ASSET].get("classification:classes")
            for f in found[0]["features"]]
