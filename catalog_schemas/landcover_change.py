"""Land-cover change: the transition encoding, class groups, the ``changes`` collection and items.

A change raster holds, per pixel, the CLC classes before and after as one uint16:
``from_grid_code * 100 + to_grid_code`` (grid codes 1-44, so 101-4444; ``2334`` is grid 23 ->
grid 34, i.e. 311 broad-leaved forest -> 334 burnt areas). Unchanged pixels keep their value
(``2323``), so "no change" and "unknown" (0: nodata, cloud or shadow in either input) differ.
The encoding is the same in every item, so one colour map serves the whole collection; each
item lists the values it holds as ``classification:classes``.

Class groups for alerts: a CLC code (``311``), a level-2 or level-1 prefix (``31``, ``3``) or
a name of :data:`GROUPS` (``forest`` = 31x, ``burnt`` = 334).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pystac
from pystac.extensions.classification import Classification, ClassificationExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from pystac.extensions.render import Render, RenderExtension

from catalog_schemas import clc
from catalog_schemas import earthsig_extension as earthsig
from catalog_schemas.assets import CHANGE_ASSET, CHANGE_COLORMAP_NAME, SUMMARY_ASSET
from catalog_schemas.assets import CHANGE_NODATA as NODATA
from catalog_schemas.collections import EUROPE_BBOX
from catalog_schemas.earthsig_extension import EarthsigExtension
from catalog_schemas.items import SOFTWARE_VERSION, Grid, PublishedFile
from catalog_schemas.schema_uris import PROCESSING_SCHEMA

CHANGES_COLLECTION_ID = "changes"
FACTOR = 100
# A change item's properties (the project's extension), under the names its readers use.
TILE, MODE, MODEL, TRANSITIONS = earthsig.TILE, earthsig.MODE, earthsig.MODEL, earthsig.TRANSITIONS
BEFORE_ITEMS, AFTER_ITEMS = earthsig.BEFORE_ITEMS, earthsig.AFTER_ITEMS
CHANGED_AREA, VALID_AREA = earthsig.CHANGED_AREA, earthsig.VALID_AREA
UNCHANGED_RGBA = (200, 200, 200, 90)  # unchanged pixels: a faint grey, changes in colour

GROUPS: dict[str, str] = {
    "artificial": "1", "urban": "11", "agricultural": "2", "arable": "21", "crops": "22",
    "pastures": "231", "forest": "31", "scrub": "32", "open": "33", "bare": "33",
    "burnt": "334", "glaciers": "335", "wetlands": "4", "water": "5",
}


def encode(from_grid: int, to_grid: int) -> int:
    return int(from_grid) * FACTOR + int(to_grid)


def decode(value: int) -> tuple[int, int]:
    """(from grid code, to grid code) of a change value; ValueError for nodata or junk."""
    before, after = divmod(int(value), FACTOR)
    if not (1 <= before <= len(clc.clc_classes()) and 1 <= after <= len(clc.clc_classes())):
        raise ValueError(f"{value} is not a change value (from_grid * {FACTOR} + to_grid)")
    return before, after


def group_codes(term: str) -> frozenset[int]:
    """The CLC level-3 codes a group term names: a code, a code prefix or a :data:`GROUPS`
    name. ValueError naming the term (and the names known) when it matches nothing."""
    key = term.strip().lower()
    prefix = GROUPS.get(key, key)
    if not prefix.isdigit():
        raise ValueError(f"unknown class group {term!r}: give a CLC code or prefix (311, 31, 3)"
                         f" or one of {', '.join(sorted(GROUPS))}")
    codes = frozenset(c.clc_code for c in clc.clc_classes() if str(c.clc_code).startswith(prefix))
    if not codes:
        raise ValueError(f"class group {term!r} matches no CLC code")
    return codes


def transition_name(value: int) -> tuple[str, str]:
    """(short name ``311-334``, description ``Broad-leaved forest -> Burnt areas``)."""
    before, after = (clc.by_grid_code(g) for g in decode(value))
    if before.grid_code == after.grid_code:
        return f"{before.clc_code}", f"{before.name} (unchanged)"
    return f"{before.clc_code}-{after.clc_code}", f"{before.name} -> {after.name}"


def change_colormap() -> dict[int, tuple[int, int, int, int]]:
    """Value -> RGBA for every possible value: changes in the new class's colour, unchanged
    pixels faint grey, nodata transparent (for the tiler's ``clc-change`` colour map)."""
    cmap: dict[int, tuple[int, int, int, int]] = {NODATA: (0, 0, 0, 0)}
    for a in clc.clc_classes():
        for b in clc.clc_classes():
            cmap[encode(a.grid_code, b.grid_code)] = (
                UNCHANGED_RGBA if a.grid_code == b.grid_code else (*b.rgb, 255))
    return cmap


def classification_classes(values: list[int]) -> list[dict]:
    rgba = change_colormap()
    out = []
    for v in sorted(values):
        name, description = transition_name(v)
        out.append({"value": int(v), "name": f"clc-{name}", "description": description,
                    "color_hint": "{:02X}{:02X}{:02X}".format(*rgba[int(v)][:3])})
    return out


def changes_collection() -> pystac.Collection:
    collection = pystac.Collection(
        id=CHANGES_COLLECTION_ID,
        title="EarthSignature land-cover changes",
        description=(
            "From -> to transitions of CORINE land cover between two acquisitions of a "
            "Sentinel-2 tile (or the latest clear pixels before and after a date), derived from "
            "items of the landcover collection: a change COG and a table of transition areas."),
        extent=pystac.Extent(
            pystac.SpatialExtent([EUROPE_BBOX]),
            pystac.TemporalExtent([[datetime(2015, 6, 23, tzinfo=UTC), None]])),
        license="CC-BY-4.0",
        keywords=["land cover", "change detection", "CORINE", "Sentinel-2"],
        providers=[pystac.Provider(name="EarthSignature",
                                   roles=[pystac.ProviderRole.PROCESSOR,
                                          pystac.ProviderRole.HOST])],
    )
    collection.extra_fields["item_assets"] = {
        CHANGE_ASSET: {"type": pystac.MediaType.COG, "roles": ["data"],
                       "title": "Transitions: from_grid_code * 100 + to_grid_code; 0 nodata"},
        SUMMARY_ASSET: {"type": "text/csv", "roles": ["metadata"],
                        "title": "Area of each transition (hectares)"},
    }
    RenderExtension.ext(collection, add_if_missing=True).apply({
        CHANGE_ASSET: Render.create(assets=[CHANGE_ASSET], colormap_name=CHANGE_COLORMAP_NAME,
                                    resampling="nearest", minmax_zoom=[8, 16],
                                    title="Land-cover change (colour of the new class)"),
    })
    return collection


@dataclass(frozen=True)
class Transition:
    from_code: int  # CLC level-3 codes
    to_code: int
    pixels: int
    area_ha: float

    def as_property(self) -> dict:
        return {"from": str(self.from_code), "to": str(self.to_code), "pixels": self.pixels,
                "area_ha": self.area_ha}


@dataclass(frozen=True)
class ChangeInputs:
    """The landcover items a change was computed from (lineage)."""

    tile: str
    mode: str  # "pair" | "composite"
    before: list[pystac.Item]
    after: list[pystac.Item]
    model: str


def change_item_id(tile: str, mode: str, before: datetime, after: datetime, model: str) -> str:
    """Deterministic: recomputing the same change replaces its item."""
    tag = "" if mode == "pair" else "composite_"
    return (f"change_{tile}_{tag}{before:%Y%m%d}_{after:%Y%m%d}_"
            f"{model.replace(':', '_v')}")


def change_item(*, inputs: ChangeInputs, start: datetime, end: datetime, grid: Grid,
                files: dict[str, PublishedFile], transitions: list[Transition],
                valid_area_ha: float, item_hrefs: dict[str, str],
                processed: datetime | None = None) -> pystac.Item:
    """The item of one change; ``item_hrefs`` maps input item id -> its href (lineage)."""
    first = inputs.after[-1]
    item = pystac.Item(
        id=change_item_id(inputs.tile, inputs.mode, start, end, inputs.model),
        geometry=first.geometry, bbox=first.bbox, datetime=None,
        start_datetime=start, end_datetime=end, collection=CHANGES_COLLECTION_ID,
        properties={})
    changed = [t for t in transitions if t.from_code != t.to_code]
    ids_before = [i.id for i in inputs.before]
    ids_after = [i.id for i in inputs.after]
    item.properties.update({
        "title": f"Land-cover change of {inputs.tile}, {start:%Y-%m-%d} -> {end:%Y-%m-%d}",
        "description": (f"CORINE land-cover transitions of tile {inputs.tile} between "
                        f"{start:%Y-%m-%d} and {end:%Y-%m-%d} ({inputs.mode}), model "
                        f"{inputs.model}"),
    })
    EarthsigExtension.ext(item).apply_change(
        tile=inputs.tile, mode=inputs.mode, model=inputs.model,  # type: ignore[arg-type]
        before_items=ids_before, after_items=ids_after,
        transitions=[t.as_property() for t in transitions],
        changed_area_ha=round(sum(t.area_ha for t in changed), 4),
        valid_area_ha=round(valid_area_ha, 4))
    item.properties.update({
        "processing:level": "L4",
        "processing:lineage": (f"Per-pixel comparison of landcover items {ids_before} "
                               f"(before) and {ids_after} (after)"),
        "processing:software": {"earthsignature": SOFTWARE_VERSION},
        "processing:datetime": (processed or datetime.now(UTC)).isoformat()
        .replace("+00:00", "Z"),
    })
    item.stac_extensions.append(PROCESSING_SCHEMA)
    for i in [*inputs.before, *inputs.after]:
        item.add_link(pystac.Link("derived_from", item_hrefs[i.id], pystac.MediaType.JSON,
                                  title=f"Land cover {i.id}"))
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = f"EPSG:{grid.epsg}"
    proj.shape = list(grid.shape)
    proj.transform = list(grid.transform[:6])
    proj.bbox = list(grid.bbox)
    values = [encode(clc.grid_code_of(t.from_code), clc.grid_code_of(t.to_code))
              for t in transitions]
    for key, published in files.items():
        if key == CHANGE_ASSET:
            asset = pystac.Asset(published.href, media_type=pystac.MediaType.COG,
                                 roles=["data"], title="Transitions (from_grid * 100 + to_grid)")
            item.add_asset(key, asset)
            RasterExtension.ext(asset, add_if_missing=True).bands = [RasterBand.create(
                nodata=NODATA, data_type=DataType.UINT16,
                spatial_resolution=abs(grid.transform[0]))]
            ClassificationExtension.ext(asset, add_if_missing=True).classes = [
                Classification.create(**c) for c in classification_classes(values)]
        else:
            asset = pystac.Asset(published.href, media_type="text/csv", roles=["metadata"],
                                 title="Area of each transition (hectares)")
            item.add_asset(key, asset)
        file_ext = FileExtension.ext(asset, add_if_missing=True)
        file_ext.size, file_ext.checksum = published.size, published.checksum
    return item
