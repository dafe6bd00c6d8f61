"""The layers the web map offers, each with the query that draws it and its legend.

Land cover, cloud mask (the landcover collection's renders), the model's confidence (its
``confidence`` asset through a colour ramp) and changes (the ``changes`` collection's default
render), each only where the catalog has it. A class legend lists every colour the layer can
draw (for land cover: only the classes the collection's models can write); the page keeps of
it the entries whose colour is in the tiles in view. A ramp legend is a gradient.

Colours come from ``catalog_schemas`` and rio-tiler's registered colour maps, the tiles' own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from psycopg_pool import ConnectionPool
from pydantic import BaseModel
from rio_tiler.colormap import cmap as stock_colormaps

from catalog_schemas import clc, landcover_change
from catalog_schemas.assets import (
    CLOUDMASK_ASSET,
    CONFIDENCE_ASSET,
    CONFIDENCE_NODATA,
)
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from catalog_schemas.landcover_change import CHANGES_COLLECTION_ID
from tiler.legend import LegendEntry, LegendName, collection_grid_codes, legend

CONFIDENCE_COLORMAP = "viridis"
RAMP_STOPS = 5


class RampLegend(BaseModel):
    title: str
    colors: list[str]  # evenly spaced from ``low`` to ``high``
    low: str
    high: str


class MapLayer(BaseModel):
    id: str
    title: str
    collection: str
    # Added to the tile (and TileJSON) query; the collection's default render fills in the rest.
    params: dict[str, str]
    legend_title: str
    legend_kind: Literal["classes", "ramp"]
    classes: list[LegendEntry] = []
    ramp: RampLegend | None = None


def _hex(rgba: Iterable[int]) -> str:
    return "#" + "".join(f"{v:02x}" for v in list(rgba)[:3])


def confidence_ramp() -> RampLegend:
    """The colours of the confidence tiles at 0, 25 … 100 %."""
    colours = stock_colormaps.get(CONFIDENCE_COLORMAP)
    steps = [round(i * 255 / (RAMP_STOPS - 1)) for i in range(RAMP_STOPS)]
    # A stock colour map is a plain value -> RGBA table (no intervals).
    rgba = [colours[s] for s in steps if isinstance(colours, dict)]
    return RampLegend(title="Model confidence", colors=[_hex(c) for c in rgba],
                      low="0 %", high="100 %")


def change_entries() -> list[LegendEntry]:
    """A change pixel takes its new class's colour; unchanged ones a faint grey."""
    grey = landcover_change.UNCHANGED_RGBA
    entries = [LegendEntry(value=0, code="=", name="Unchanged", color=_hex(grey), rgba=grey)]
    entries += [LegendEntry(value=c.grid_code, code=f"→ {c.clc_code}", name=c.name,
                            color=f"#{c.hex_color}", rgba=(*c.rgb, 255))
                for c in clc.clc_classes()]
    return entries


def map_layers(pool: ConnectionPool, collections: list[str]) -> list[MapLayer]:
    """The layers the catalog can draw, landcover's first."""
    layers = []
    if LANDCOVER_COLLECTION_ID in collections:
        codes = collection_grid_codes(pool, LANDCOVER_COLLECTION_ID)
        layers += [
            MapLayer(id="landcover", title="Land cover", collection=LANDCOVER_COLLECTION_ID,
                     params={}, legend_title="CORINE Land Cover", legend_kind="classes",
                     classes=legend(LegendName.clc, codes).entries),
            MapLayer(id="cloudmask", title="Cloud mask", collection=LANDCOVER_COLLECTION_ID,
                     params={"render": CLOUDMASK_ASSET}, legend_title="Cloud mask",
                     legend_kind="classes", classes=legend(LegendName.cloudmask).entries),
            MapLayer(id="confidence", title="Confidence", collection=LANDCOVER_COLLECTION_ID,
                     params={"assets": CONFIDENCE_ASSET, "colormap_name": CONFIDENCE_COLORMAP,
                             "rescale": "0,100", "nodata": str(CONFIDENCE_NODATA),
                             "resampling": "nearest"},
                     legend_title="Model confidence", legend_kind="ramp",
                     ramp=confidence_ramp()),
        ]
    if CHANGES_COLLECTION_ID in collections:
        layers.append(MapLayer(id="changes", title="Changes", collection=CHANGES_COLLECTION_ID,
                               params={}, legend_title="Changed to",
                               legend_kind="classes", classes=change_entries()))
    # Any other collection with a render: its default one, without a legend.
    layers += [MapLayer(id=c, title=c, collection=c, params={}, legend_title=c,
                        legend_kind="classes")
               for c in collections if c not in (LANDCOVER_COLLECTION_ID, CHANGES_COLLECTION_ID)]
    return layers
