"""Time series: what every acquisition says about a point or a polygon over a date range.

- **Point**: per item (oldest first) the land-cover class at the point (code, name, colour),
  the model's confidence and the cloud-mask class; class and confidence are null where the item
  has no class there (cloud, shadow, nodata).
- **Area**: per item the share of each class over the polygon's *valid* pixels (a class, not
  under cloud, thin cloud or shadow), and how many pixels were valid, clouded or without data;
  ``coverage`` = valid / all pixels of the polygon.

Items come from pgstac's own ``search()`` (intersecting the point or polygon, within the dates,
sorted by datetime); each item's ``landcover``, ``confidence`` and ``cloudmask`` COGs are read
with rasterio, on their own grid (no resampling: a pixel is counted when its centre lies in the
polygon), through the tiler's asset-root guard. JSON and CSV, over HTTP
(``/timeseries/point``, ``/timeseries/area``: :mod:`tiler.timeseries_routes`) and
``earthsig timeseries``; see docs/timeseries.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from functools import cache
from typing import Any

import numpy as np
import psycopg
import rasterio
import shapely
import shapely.ops
import shapely.validation
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pyproj import Geod, Transformer
from rasterio.features import geometry_mask
from rasterio.windows import Window

from catalog_schemas import clc, cloudmask
from catalog_schemas.assets import (
    CLOUDMASK_ASSET,
    CONFIDENCE_ASSET,
    CONFIDENCE_NODATA,
    LANDCOVER_ASSET,
)
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from catalog_schemas.earthsig_extension import MODEL
from tiler.errors import NothingHereError, TilerServiceError
from tiler.paths import AssetRoots

PGSTAC_OPTIONS = "-c search_path=pgstac,public"  # pgstac's functions need it
_GEOD = Geod(ellps="WGS84")
_CLOUD_NAMES = {c.value: c.name for c in cloudmask.CLOUD_CLASSES} | {cloudmask.NODATA: "nodata"}


class TimeseriesSettings(BaseSettings):
    """Limits of one time-series request (``EARTHSIG_TIMESERIES_*``)."""

    model_config = SettingsConfigDict(env_prefix="EARTHSIG_TIMESERIES_", extra="ignore")

    max_area_km2: float = Field(default=100.0, gt=0, description=(
        "Largest polygon accepted: each item reads every pixel of it (100 km² = 1 M pixels)."))
    max_items: int = Field(default=500, ge=1, description=(
        "Most acquisitions in one series; more asks for a narrower date range."))


class TimeseriesInputError(TilerServiceError):
    """Bad input to a time series: dates, coordinates, geometry, size (400)."""


# -- results ---------------------------------------------------------------------------------


class PointObservation(BaseModel):
    item: str
    datetime: str | None
    model: str | None
    clc_code: int | None
    name: str | None
    grid_code: int | None
    color: str | None
    confidence: int | None
    cloud: str | None  # cloud-mask class name; null when the item has no cloud mask


class PointSeries(BaseModel):
    lon: float
    lat: float
    collection: str
    start: str | None
    end: str | None
    count: int
    series: list[PointObservation]


class ClassShare(BaseModel):
    clc_code: int
    name: str
    pixels: int
    fraction: float


class AreaObservation(BaseModel):
    item: str
    datetime: str | None
    model: str | None
    pixels: int  # pixel centres inside the polygon, on the item's grid
    valid_pixels: int
    clouded_pixels: int
    nodata_pixels: int
    coverage: float  # valid_pixels / pixels
    classes: list[ClassShare]


class AreaSeries(BaseModel):
    geometry: dict[str, Any]
    area_km2: float
    collection: str
    start: str | None
    end: str | None
    count: int
    series: list[AreaObservation]


# -- input -----------------------------------------------------------------------------------


def parse_when(value: str | date | datetime | None, *, end: bool) -> datetime | None:
    """An ISO day or datetime as UTC; a day as an end means its last instant."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, date):
        found = datetime.combine(value, time.max if end else time.min)
    else:
        text = value.strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                found = datetime.combine(day, time.max if end else time.min)
            else:
                found = datetime.fromisoformat(text)
        except ValueError:
            which = "end" if end else "start"
            raise TimeseriesInputError(
                f"{which} {value!r} is not an ISO date (2024-06-01) or datetime "
                "(2024-06-01T10:00:00Z)") from None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def date_range(start: str | date | datetime | None, end: str | date | datetime | None
               ) -> tuple[datetime | None, datetime | None]:
    first, last = parse_when(start, end=False), parse_when(end, end=True)
    if first and last and first > last:
        raise TimeseriesInputError(f"start {first.isoformat()} is after end {last.isoformat()}")
    return first, last


def check_point(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180
            and -90 <= lat <= 90):
        raise TimeseriesInputError(f"({lon}, {lat}) is not a longitude/latitude in WGS84")


def parse_area(geojson: dict[str, Any], max_area_km2: float) -> tuple[shapely.Geometry, float]:
    """A GeoJSON Polygon/MultiPolygon (or a Feature of one) in WGS84, valid, not too large."""
    if not isinstance(geojson, dict):
        raise TimeseriesInputError("geometry must be a GeoJSON object")
    if geojson.get("type") == "Feature":
        geojson = geojson.get("geometry") or {}
    if geojson.get("type") not in ("Polygon", "MultiPolygon"):
        raise TimeseriesInputError(
            f"geometry must be a GeoJSON Polygon or MultiPolygon, got {geojson.get('type')!r}")
    try:
        geom = shapely.geometry.shape(geojson)
    except Exception as exc:  # shapely raises several types on malformed coordinates
        raise TimeseriesInputError(f"geometry is not valid GeoJSON: {exc}") from None
    if geom.is_empty:
        raise TimeseriesInputError("geometry is empty")
    west, south, east, north = geom.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise TimeseriesInputError(
            f"geometry bounds {geom.bounds} are not longitude/latitude in WGS84")
    if not geom.is_valid:
        reason = shapely.validation.explain_validity(geom)
        raise TimeseriesInputError(f"geometry is invalid: {reason}")
    area_km2 = abs(_GEOD.geometry_area_perimeter(geom)[0]) / 1e6
    if area_km2 > max_area_km2:
        raise TimeseriesInputError(
            f"the polygon covers {area_km2:.1f} km²; at most {max_area_km2:g} km² "
            "(EARTHSIG_TIMESERIES_MAX_AREA_KM2)")
    return geom, area_km2


# -- items -----------------------------------------------------------------------------------


def _iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def connect(dsn: str = "") -> psycopg.Connection:
    """A connection to pgstac at ``dsn`` (empty: the libpq ``PG*`` variables)."""
    return psycopg.connect(dsn, autocommit=True, options=PGSTAC_OPTIONS)


def find_items(conn: psycopg.Connection, geometry: dict[str, Any], start: datetime | None,
               end: datetime | None, collection: str, max_items: int) -> list[dict[str, Any]]:
    """Items of ``collection`` intersecting ``geometry`` within the dates, oldest first.

    Raises NothingHereError when the collection is unknown or no item at any date covers the
    geometry (a place outside the catalog), TimeseriesInputError when there are too many.
    """
    body: dict[str, Any] = {
        "collections": [collection], "intersects": geometry, "limit": max_items + 1,
        "sortby": [{"field": "datetime", "direction": "asc"}, {"field": "id",
                                                              "direction": "asc"}],
    }
    if start or end:
        body["datetime"] = f"{_iso(start) or '..'}/{_iso(end) or '..'}"
    features = _search(conn, body)
    if len(features) > max_items:
        raise TimeseriesInputError(
            f"more than {max_items} acquisitions match; narrow the dates (start, end)")
    if not features:
        known = conn.execute("SELECT 1 FROM pgstac.collections WHERE id = %s",
                             (collection,)).fetchone()
        if known is None:
            raise NothingHereError(f"collection {collection!r} does not exist")
        anywhere = {"collections": [collection], "intersects": geometry, "limit": 1}
        if not _search(conn, anywhere):
            raise NothingHereError(f"no item of {collection!r} covers this place at any date")
    return features


def _search(conn: psycopg.Connection, body: dict[str, Any]) -> list[dict[str, Any]]:
    row = conn.execute("SELECT pgstac.search(%s::jsonb)", (Jsonb(body),)).fetchone()
    return list((row[0] if row else {}).get("features") or [])


@cache
def _to_crs(crs: str) -> Transformer:
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


@contextmanager
def _open(item: dict[str, Any], key: str, roots: AssetRoots) -> Iterator[Any]:
    """The item's asset ``key`` opened with rasterio (None when the item lacks it)."""
    asset = (item.get("assets") or {}).get(key)
    if not asset:
        yield None
        return
    with rasterio.open(roots.check(asset["href"])) as src:
        yield src


def _props(item: dict[str, Any]) -> tuple[str | None, str | None]:
    props = item.get("properties") or {}
    return props.get("datetime"), props.get(MODEL)


# -- point -----------------------------------------------------------------------------------


def _pixel(src: Any, x: float, y: float) -> int | None:
    """The value at (x, y) in the dataset's CRS; None outside its grid."""
    if src is None:
        return None
    row, col = src.index(x, y)
    if not (0 <= row < src.height and 0 <= col < src.width):
        return None
    return int(src.read(1, window=Window(col, row, 1, 1))[0, 0])


def observe_point(item: dict[str, Any], lon: float, lat: float,
                  roots: AssetRoots) -> PointObservation:
    with (_open(item, LANDCOVER_ASSET, roots) as landcover,
          _open(item, CONFIDENCE_ASSET, roots) as confidence,
          _open(item, CLOUDMASK_ASSET, roots) as clouds):
        if landcover is None:
            raise TimeseriesInputError(f"item {item['id']} has no {LANDCOVER_ASSET} asset")
        x, y = _to_crs(landcover.crs.to_string()).transform(lon, lat)
        code, conf, cloud = _pixel(landcover, x, y), _pixel(confidence, x, y), _pixel(clouds, x, y)
    when, model = _props(item)
    cls = clc.by_grid_code(code) if code else None
    return PointObservation(
        item=item["id"], datetime=when, model=model,
        clc_code=cls.clc_code if cls else None, name=cls.name if cls else None,
        grid_code=code if cls else None, color=f"#{cls.hex_color}" if cls else None,
        confidence=conf if cls and conf is not None and conf != CONFIDENCE_NODATA else None,
        cloud=_CLOUD_NAMES.get(cloud) if cloud is not None else (
            None if clouds is None else "nodata"),
    )


def point_series(conn: psycopg.Connection, lon: float, lat: float, roots: AssetRoots, *,
                 start: str | date | datetime | None = None,
                 end: str | date | datetime | None = None,
                 collection: str = LANDCOVER_COLLECTION_ID,
                 settings: TimeseriesSettings | None = None) -> PointSeries:
    """The class, confidence and cloud state at lon/lat in every acquisition, oldest first."""
    settings = settings or TimeseriesSettings()
    check_point(lon, lat)
    first, last = date_range(start, end)
    items = find_items(conn, {"type": "Point", "coordinates": [lon, lat]}, first, last,
                       collection, settings.max_items)
    series = [observe_point(item, lon, lat, roots) for item in items]
    return PointSeries(lon=lon, lat=lat, collection=collection, start=_iso(first),
                       end=_iso(last), count=len(series), series=series)


# -- area ------------------------------------------------------------------------------------


def _window(src: Any, geom: shapely.Geometry) -> Window:
    """The whole-pixel window around ``geom`` (in the dataset's CRS), possibly off the grid."""
    west, south, east, north = geom.bounds
    inverse = ~src.transform
    cols, rows = zip(*(inverse * (x, y) for x, y in ((west, north), (east, south))), strict=True)
    col0, row0 = math.floor(min(cols)), math.floor(min(rows))
    return Window(col0, row0, math.ceil(max(cols)) - col0, math.ceil(max(rows)) - row0)


def _read(src: Any, window: Window) -> np.ndarray | None:
    if src is None:
        return None
    return src.read(1, window=window, boundless=True, fill_value=0)


def observe_area(item: dict[str, Any], geom: shapely.Geometry,
                 roots: AssetRoots) -> AreaObservation:
    with (_open(item, LANDCOVER_ASSET, roots) as landcover,
          _open(item, CLOUDMASK_ASSET, roots) as clouds):
        if landcover is None:
            raise TimeseriesInputError(f"item {item['id']} has no {LANDCOVER_ASSET} asset")
        local = shapely.ops.transform(_to_crs(landcover.crs.to_string()).transform, geom)
        window = _window(landcover, local)
        classes = _read(landcover, window)
        cloud = _read(clouds, window)
        transform = landcover.window_transform(window)
    assert classes is not None
    inside = geometry_mask([local], out_shape=classes.shape, transform=transform, invert=True)
    if not inside.any():  # smaller than a pixel: the pixels it touches
        inside = geometry_mask([local], out_shape=classes.shape, transform=transform,
                               invert=True, all_touched=True)
    obscured = (np.isin(cloud, cloudmask.OBSCURED) & inside if cloud is not None
                else np.zeros_like(inside))
    valid = inside & (classes != clc.NODATA) & ~obscured
    codes, counts = np.unique(classes[valid], return_counts=True)
    n_valid, n_inside = int(valid.sum()), int(inside.sum())
    when, model = _props(item)
    shares = [ClassShare(clc_code=clc.by_grid_code(int(g)).clc_code,
                         name=clc.by_grid_code(int(g)).name, pixels=int(n),
                         fraction=round(int(n) / n_valid, 6))
              for g, n in zip(codes, counts, strict=True)]
    return AreaObservation(
        item=item["id"], datetime=when, model=model, pixels=n_inside, valid_pixels=n_valid,
        clouded_pixels=int(obscured.sum()), nodata_pixels=n_inside - n_valid - int(obscured.sum()),
        coverage=round(n_valid / n_inside, 6) if n_inside else 0.0,
        classes=sorted(shares, key=lambda s: s.clc_code),
    )


def area_series(conn: psycopg.Connection, geometry: dict[str, Any], roots: AssetRoots, *,
                start: str | date | datetime | None = None,
                end: str | date | datetime | None = None,
                collection: str = LANDCOVER_COLLECTION_ID,
                settings: TimeseriesSettings | None = None) -> AreaSeries:
    """Class fractions over the polygon's valid pixels in every acquisition, oldest first."""
    settings = settings or TimeseriesSettings()
    geom, area_km2 = parse_area(geometry, settings.max_area_km2)
    first, last = date_range(start, end)
    items = find_items(conn, shapely.geometry.mapping(geom), first, last, collection,
                       settings.max_items)
    series = [observe_area(item, geom, roots) for item in items]
    return AreaSeries(geometry=shapely.geometry.mapping(geom), area_km2=round(area_km2, 6),
                      collection=collection, start=_iso(first), end=_iso(last),
                      count=len(series), series=series)


# -- CSV -------------------------------------------------------------------------------------
