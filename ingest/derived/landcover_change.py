"""Land-cover change between acquisitions of one MGRS tile, and alerts on it.

Inputs are landcover items (one model): a **pair** (two item ids, or the latest acquisition on
or before one date and the earliest on or after another), or a **composite** around a date:
per pixel the latest clear class before the date and the latest clear class from the date on.
A pixel without a class (nodata, cloud, thin cloud, shadow: 0 in the landcover COG) in either
state is nodata in the change. Output: a uint16 change COG
(``catalog_schemas.landcover_change``), the table of transition areas (hectares per from -> to
pair), and optionally an item in the ``changes`` collection, published atomically with
``derived_from`` links to every input.

:func:`alerts` lists connected regions of a from-group -> to-group transition (``forest`` ->
``burnt``) over an area threshold, from the published change items: a plain function for the
CLI today and the API tomorrow.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

import numpy as np
import pystac
import rasterio
from rasterio.crs import CRS
from rasterio.features import geometry_mask, shapes
from rasterio.warp import transform_geom
from shapely.geometry import mapping, shape

from catalog_schemas import clc
from catalog_schemas import landcover_change as ch
from catalog_schemas.collections import LANDCOVER_ASSET, LANDCOVER_COLLECTION_ID
from catalog_schemas.earthsig_extension import MODEL
from catalog_schemas.items import Grid, PublishedFile
from ingest.catalog import publisher
from ingest.catalog.register import CollectionDefinition
from ingest.derived.inputs import api_href, get_item, landcover_items_of_tile, search_items, tile_of
from ingest.errors import InvalidProductError
from ingest.outputs.atomic import atomic_file
from ingest.outputs.cog import write_cog
from ingest.settings import IngestSettings

CHANGE_FILE = "change.tif"
SUMMARY_FILE = "transitions.csv"
M2_PER_HA = 10_000.0


@dataclass
class LandcoverRaster:
    item: pystac.Item
    classes: np.ndarray  # uint8 grid codes, 0 = no class
    crs: CRS
    transform: rasterio.Affine


@dataclass
class ChangeResult:
    inputs: ch.ChangeInputs
    start: datetime  # the (newest) before acquisition
    end: datetime  # the (newest) after acquisition
    change: np.ndarray  # uint16 from_grid * 100 + to_grid, 0 nodata
    transitions: list[ch.Transition]  # every pair present, unchanged ones too
    valid_pixels: int
    crs: CRS
    transform: rasterio.Affine
    item: pystac.Item | None = field(default=None)

    @property
    def pixel_area_m2(self) -> float:
        return abs(self.transform.a * self.transform.e)

    @property
    def changed(self) -> list[ch.Transition]:
        return [t for t in self.transitions if t.from_code != t.to_code]

    @property
    def grid(self) -> Grid:
        epsg = self.crs.to_epsg()
        if epsg is None:
            raise InvalidProductError(f"CRS {self.crs} has no EPSG code")
        return Grid(epsg=epsg, shape=self.change.shape, transform=tuple(self.transform)[:6])


def change_values(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The change raster of two grid-code rasters: 0 where either has no class."""
    if before.shape != after.shape:
        raise InvalidProductError(f"land-cover grids differ: {before.shape} vs {after.shape}")
    valid = (before > 0) & (after > 0)
    out = np.zeros(before.shape, np.uint16)
    out[valid] = before[valid].astype(np.uint16) * ch.FACTOR + after[valid]
    return out


def latest_clear(rasters: list[np.ndarray]) -> np.ndarray:
    """Per pixel the class of the last raster (in list order) that has one there."""
    out = np.zeros(rasters[0].shape, np.uint8)
    for classes in rasters:
        np.copyto(out, classes, where=classes > 0)
    return out


def transitions_of(change: np.ndarray, pixel_area_m2: float) -> list[ch.Transition]:
    values, counts = np.unique(change[change != ch.NODATA], return_counts=True)
    out = []
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        before, after = (clc.by_grid_code(g).clc_code for g in ch.decode(value))
        out.append(ch.Transition(before, after, int(count),
                                 round(count * pixel_area_m2 / M2_PER_HA, 4)))
    return sorted(out, key=lambda t: (-t.pixels, t.from_code, t.to_code))


def read_landcover(item: pystac.Item) -> LandcoverRaster:
    asset = item.assets.get(LANDCOVER_ASSET)
    if asset is None:
        raise InvalidProductError(f"item {item.id} has no {LANDCOVER_ASSET!r} asset")
    with rasterio.open(asset.href) as src:
        return LandcoverRaster(item, src.read(1), src.crs, src.transform)


def _same_grid(rasters: list[LandcoverRaster]) -> None:
    first = rasters[0]
    for r in rasters[1:]:
        if (r.classes.shape, r.crs, r.transform) != (first.classes.shape, first.crs,
                                                       first.transform):
            raise InvalidProductError(
                f"items {first.item.id} and {r.item.id} are not on the same grid "
                f"({first.classes.shape} {first.crs} vs {r.classes.shape} {r.crs}): "
                "changes are computed between acquisitions of one tile")


def _model_of(items: list[pystac.Item], model: str | None) -> str:
    models = sorted({str(i.properties.get(MODEL)) for i in items})
    if model is None and len(models) > 1:
        raise InvalidProductError(f"the items come from several models {models}: name one "
                                  "(a change between two models is no change)")
    if model is not None and models != [model]:
        raise InvalidProductError(f"items of models {models}, expected {model}")
    return models[0]


def select_pair(tile: str, before: date, after: date, *, model: str | None = None,
                dsn: str = "") -> tuple[pystac.Item, pystac.Item]:
    """The latest landcover item of ``tile`` on or before ``before`` and the earliest on or
    after ``after``."""
    if after < before:
        raise ValueError(f"after ({after}) is earlier than before ({before})")
    items = landcover_items_of_tile(tile, model=model, dsn=dsn)
    olds = [i for i in items if i.datetime and i.datetime.date() <= before]
    news = [i for i in items if i.datetime and i.datetime.date() >= after]
    if not olds or not news:
        dates = sorted({i.datetime.date().isoformat() for i in items if i.datetime})
        raise InvalidProductError(
            f"tile {tile}: no landcover item {'on or before ' + str(before) if not olds else ''}"
            f"{' and ' if not olds and not news else ''}"
            f"{'on or after ' + str(after) if not news else ''} (acquisitions: {dates})")
    _model_of([olds[-1], news[0]], model)
    return olds[-1], news[0]


def detect_pair(before: pystac.Item, after: pystac.Item) -> ChangeResult:
    """The change from one landcover item to another (same tile grid, same model)."""
    if before.datetime and after.datetime and after.datetime < before.datetime:
        raise InvalidProductError(f"{after.id} was acquired before {before.id}")
    model = _model_of([before, after], None)
    a, b = read_landcover(before), read_landcover(after)
    _same_grid([a, b])
    tile = tile_of(after) or "unknown"
    return _result(ch.ChangeInputs(tile, "pair", [before], [after], model),
                   a.classes, b.classes, a, before.datetime, after.datetime)


def detect_composite(tile: str, at: date, *, model: str | None = None, dsn: str = ""
                     ) -> ChangeResult:
    """Per pixel: the latest clear class before ``at`` against the latest clear class on or
    after it, over every landcover item of ``tile``."""
    items = landcover_items_of_tile(tile, model=model, dsn=dsn)
    olds = [i for i in items if i.datetime and i.datetime.date() < at]
    news = [i for i in items if i.datetime and i.datetime.date() >= at]
    if not olds or not news:
        raise InvalidProductError(f"tile {tile}: need landcover items before and from {at} "
                                  f"(have {len(olds)} before, {len(news)} from)")
    chosen_model = _model_of(olds + news, model)
    rasters = [read_landcover(i) for i in olds + news]
    _same_grid(rasters)
    before = latest_clear([r.classes for r in rasters[: len(olds)]])
    after = latest_clear([r.classes for r in rasters[len(olds):]])
    inputs = ch.ChangeInputs(tile.upper().removeprefix("T"), "composite", olds, news,
                             chosen_model)
    return _result(inputs, before, after, rasters[0], olds[-1].datetime, news[-1].datetime)


def _result(inputs: ch.ChangeInputs, before: np.ndarray, after: np.ndarray,
            ref: LandcoverRaster, start: datetime | None, end: datetime | None) -> ChangeResult:
    change = change_values(before, after)
    area = abs(ref.transform.a * ref.transform.e)
    return ChangeResult(inputs=inputs, start=start or datetime.now(UTC),
                        end=end or datetime.now(UTC), change=change,
                        transitions=transitions_of(change, area),
                        valid_pixels=int((change != ch.NODATA).sum()), crs=ref.crs,
                        transform=ref.transform)


def summary_csv(transitions: list[ch.Transition]) -> str:
    """The transition table: one row per from -> to pair, largest first."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["from_clc", "from_name", "to_clc", "to_name", "changed", "pixels",
                  "area_ha"])
    for t in transitions:
        out.writerow([t.from_code, clc.by_clc_code(t.from_code).name, t.to_code,
                      clc.by_clc_code(t.to_code).name, int(t.from_code != t.to_code),
                      t.pixels, f"{t.area_ha:.4f}"])
    return buf.getvalue()


def write_change_files(result: ChangeResult, folder: Path) -> dict[str, str]:
    """The change COG and the transition table in ``folder``; asset key -> file name."""
    write_cog(result.change, folder / CHANGE_FILE, crs=result.crs, transform=result.transform,
              nodata=ch.NODATA, categorical=True,
              tags={"CONTENT": "land-cover transitions: from_grid_code * 100 + to_grid_code",
                    "COLORMAP_NAME": ch.CHANGE_COLORMAP_NAME})
    # No embedded palette: GeoTIFF colour tables stop at 65536 entries of which GDAL writes
    # uint16 ones poorly; the tiler colours the values with the ``clc-change`` colour map.
    with atomic_file(folder / SUMMARY_FILE) as tmp:
        tmp.write_text(summary_csv(result.transitions), encoding="utf-8")
    return {ch.CHANGE_ASSET: CHANGE_FILE, ch.SUMMARY_ASSET: SUMMARY_FILE}


def publish_change(result: ChangeResult, *, ingest: IngestSettings | None = None,
                   dsn: str = "") -> pystac.Item:
    """Publish the change as an item of the ``changes`` collection (atomically)."""
    inputs = result.inputs
    item_id = ch.change_item_id(inputs.tile, inputs.mode, result.start, result.end,
                                inputs.model)
    hrefs = {i.id: api_href(LANDCOVER_COLLECTION_ID, i.id)
             for i in [*inputs.before, *inputs.after]}

    def build(files: dict[str, PublishedFile]) -> pystac.Item:
        return ch.change_item(inputs=inputs, start=result.start, end=result.end,
                              grid=result.grid, files=files, transitions=result.transitions,
                              valid_area_ha=round(result.valid_pixels * result.pixel_area_m2
                                                  / M2_PER_HA, 4), item_hrefs=hrefs)

    result.item = publisher.publish(CollectionDefinition(ch.changes_collection()), item_id,
                                    lambda folder: write_change_files(result, folder), build,
                                    ingest=ingest, dsn=dsn)
    return result.item


def detect_changes(*, items: tuple[str, str] | None = None, tile: str | None = None,
                   before: date | None = None, after: date | None = None,
                   at: date | None = None, model: str | None = None, publish: bool = False,
                   ingest: IngestSettings | None = None, dsn: str = "") -> ChangeResult:
    """One entry for every way of naming the inputs (the CLI's and a future API's)."""
    if items:
        result = detect_pair(get_item(items[0], dsn=dsn), get_item(items[1], dsn=dsn))
    elif tile and at:
        result = detect_composite(tile, at, model=model, dsn=dsn)
    elif tile and before and after:
        result = detect_pair(*select_pair(tile, before, after, model=model, dsn=dsn))
    else:
        raise ValueError("name the inputs: two item ids, or a tile with --before and --after "
                         "dates, or a tile with --at DATE (latest clear pixels around it)")
    if publish:
        publish_change(result, ingest=ingest, dsn=dsn)
    return result


@dataclass(frozen=True)
class Alert:
    item_id: str
    tile: str
    start: str
    end: str
    transitions: tuple[str, ...]  # "311-334" pairs inside the region
    pixels: int
    area_ha: float
    bbox: tuple[float, float, float, float]  # lon/lat
    geometry: dict  # GeoJSON in lon/lat

    def as_dict(self) -> dict:
        return {"item": self.item_id, "tile": self.tile, "start": self.start,
                "end": self.end, "transitions": list(self.transitions), "pixels": self.pixels,
                "area_ha": self.area_ha, "bbox": list(self.bbox), "geometry": self.geometry}


def parse_transition(text: str) -> tuple[frozenset[int], frozenset[int]]:
    """``forest:burnt`` or ``31:334`` -> (from codes, to codes)."""
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"transition {text!r} is not FROM:TO (e.g. forest:burnt, 311:334)")
    return ch.group_codes(parts[0]), ch.group_codes(parts[1])


def alerts(start: date, end: date, transition: str, *, min_ha: float = 0.0,
           tile: str | None = None, dsn: str = "") -> list[Alert]:
    """Connected regions (8-neighbour) of ``transition`` in the change items whose period
    overlaps ``start``-``end``, at least ``min_ha`` hectares each, largest first."""
    from_codes, to_codes = parse_transition(transition)
    values = {ch.encode(clc.grid_code_of(a), clc.grid_code_of(b))
              for a in from_codes for b in to_codes if a != b}
    found: list[Alert] = []
    for feature in search_items(ch.CHANGES_COLLECTION_ID, start=start, end=end, dsn=dsn):
        props = feature["properties"]
        if tile and props.get(ch.TILE) != tile.upper().removeprefix("T"):
            continue
        present = {(int(t["from"]), int(t["to"])) for t in props.get(ch.TRANSITIONS, [])}
        if not any(a in from_codes and b in to_codes and a != b for a, b in present):
            continue  # the item's table says no such pixel: skip reading its raster
        found += _regions(feature, values, min_ha)
    return sorted(found, key=lambda a: (-a.area_ha, a.item_id, a.bbox))


def _regions(feature: dict, values: set[int], min_ha: float) -> list[Alert]:
    props = feature["properties"]
    with rasterio.open(feature["assets"][ch.CHANGE_ASSET]["href"]) as src:
        change, transform, crs = src.read(1), src.transform, src.crs
    hit = np.isin(change, list(values))
    pixel_area = abs(transform.a * transform.e)
    out = []
    for geom, _ in shapes(hit.astype(np.uint8), mask=hit, connectivity=8, transform=transform):
        polygon = shape(geom)
        pixels = round(polygon.area / pixel_area)
        area_ha = round(pixels * pixel_area / M2_PER_HA, 4)
        if area_ha < min_ha:
            continue
        inside = geometry_mask([geom], change.shape, transform, invert=True)
        pairs = sorted(ch.transition_name(v)[0] for v in np.unique(change[inside & hit]))
        lonlat = transform_geom(crs, "EPSG:4326", mapping(polygon))
        out.append(Alert(feature["id"], str(props.get(ch.TILE)),
                         str(props.get("start_datetime")), str(props.get("end_datetime")),
                         tuple(pairs), pixels, area_ha,
                         tuple(round(v, 6) for v in shape(lonlat).bounds), lonlat))
    return out


def as_day(text: str) -> date:
    """A CLI date (YYYY-MM-DD); ValueError naming it otherwise."""
    try:
        return datetime.combine(date.fromisoformat(text), time()).date()
    except ValueError:
        raise ValueError(f"{text!r} is not a date like 2024-07-15") from None
