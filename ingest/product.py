"""Reading a Sentinel-2 L2A product laid out as a STAC item with one COG per band.

Bands are found by their asset key (earth-search names ``blue``/``green``/``red``/``nir`` or
``B02``...) or by the band name in ``eo:bands``; digital numbers are turned into surface
reflectance with the item's ``raster:bands`` scale and offset.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse

import numpy as np
import pystac
import rasterio
import rasterio.windows
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.windows import Window

from ingest.errors import InvalidProductError

EARTH_SEARCH_KEYS = {
    "B02": "blue", "B03": "green", "B04": "red", "B08": "nir",
    "B11": "swir16", "B12": "swir22", "SCL": "scl",
}
# Processing baseline 04.00 (January 2022) added an offset of -1000 DN to L2A reflectances.
DEFAULT_SCALE = 1e-4
BASELINE_OFFSET = -0.1


def load_item(href: str) -> pystac.Item:
    try:
        item = pystac.Item.from_file(href)
    except FileNotFoundError:
        raise InvalidProductError(f"product item not found: {href}") from None
    except (ValueError, KeyError, pystac.STACError) as exc:
        raise InvalidProductError(f"{href} is not a STAC item: {exc}") from exc
    if item.datetime is None:
        raise InvalidProductError(f"{item.id}: item has no datetime")
    return item


def _absolute(href: str, base: str | None) -> str:
    if urlparse(href).scheme or href.startswith("/") or base is None:
        return href
    if urlparse(base).scheme:
        return urljoin(base, href)
    return str((Path(base).parent / href).resolve())


def band_asset(item: pystac.Item, band: str) -> pystac.Asset:
    for key in (band, EARTH_SEARCH_KEYS.get(band, band)):
        if key in item.assets:
            return item.assets[key]
    for asset in item.assets.values():
        names = [b.get("name") for b in asset.extra_fields.get("eo:bands", [])]
        if band in names:
            return asset
    raise InvalidProductError(f"{item.id}: no asset for band {band}")


def _scale_offset(item: pystac.Item, asset: pystac.Asset) -> tuple[float, float]:
    bands = asset.extra_fields.get("raster:bands") or [{}]
    scale = bands[0].get("scale")
    offset = bands[0].get("offset")
    if scale is None:
        scale = DEFAULT_SCALE
    if offset is None:
        baseline = str(item.properties.get("s2:processing_baseline", "00.00"))
        offset = BASELINE_OFFSET if baseline >= "04.00" else 0.0
    return float(scale), float(offset)


@dataclass(frozen=True)
class BandGrid:
    crs: rasterio.crs.CRS
    transform: rasterio.Affine
    height: int
    width: int


class ProductReader:
    """Open the bands a model needs, then read any window as float32 reflectance."""

    def __init__(self, item: pystac.Item, bands: list[str]) -> None:
        self.item = item
        self.bands = bands
        self._stack = ExitStack()
        self._datasets: list[rasterio.DatasetReader] = []
        self._scales: list[tuple[float, float]] = []
        self._nodata: list[float | None] = []
        self._extra: dict[str, rasterio.DatasetReader] = {}
        base = item.get_self_href()
        try:
            for band in bands:
                asset = band_asset(item, band)
                href = _absolute(asset.href, base)
                self._datasets.append(self._stack.enter_context(rasterio.open(href)))
                self._scales.append(_scale_offset(item, asset))
                self._nodata.append(asset.extra_fields.get("raster:bands", [{}])[0].get(
                    "nodata", self._datasets[-1].nodata))
        except RasterioError as exc:
            self._stack.close()
            raise InvalidProductError(f"{item.id}: cannot open band {band}: {exc}") from exc
        except InvalidProductError:
            self._stack.close()
            raise
        self.grid = self._check_grid()

    def _check_grid(self) -> BandGrid:
        first = self._datasets[0]
        for band, ds in zip(self.bands, self._datasets, strict=True):
            if (ds.crs, ds.transform, ds.shape) != (first.crs, first.transform, first.shape):
                raise InvalidProductError(
                    f"{self.item.id}: band {band} is not on the grid of {self.bands[0]} "
                    f"({ds.crs} {ds.shape} vs {first.crs} {first.shape})")
        if first.crs is None:
            raise InvalidProductError(f"{self.item.id}: band {self.bands[0]} has no CRS")
        return BandGrid(first.crs, first.transform, first.height, first.width)

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """(reflectance [bands, h, w] float32, valid [h, w] bool) for ``window``."""
        out = np.empty((len(self.bands), int(window.height), int(window.width)), np.float32)
        valid = np.ones(out.shape[1:], dtype=bool)
        for i, ds in enumerate(self._datasets):
            try:
                dn = ds.read(1, window=window)
            except RasterioError as exc:
                raise InvalidProductError(
                    f"{self.item.id}: band {self.bands[i]} unreadable at {window}: {exc}"
                ) from exc
            if self._nodata[i] is not None:
                valid &= dn != self._nodata[i]
            scale, offset = self._scales[i]
            np.multiply(dn, scale, out=out[i], casting="unsafe")
            out[i] += offset
        return out, valid

    def read_on_grid(self, band: str, window: Window, *, categorical: bool) -> np.ndarray:
        """Raw values of ``band`` (any resolution) resampled onto ``window`` of the 10 m grid.

        Categorical bands (SCL) are resampled with nearest so no class is invented.
        """
        if band not in self._extra:
            asset = band_asset(self.item, band)
            href = _absolute(asset.href, self.item.get_self_href())
            try:
                self._extra[band] = self._stack.enter_context(rasterio.open(href))
            except RasterioError as exc:
                raise InvalidProductError(f"{self.item.id}: cannot open band {band}: "
                                          f"{exc}") from exc
        ds = self._extra[band]
        bounds = rasterio.windows.bounds(window, self.grid.transform)
        src_window = rasterio.windows.from_bounds(*bounds, transform=ds.transform)
        try:
            return ds.read(1, window=src_window, out_shape=(int(window.height),
                                                            int(window.width)),
                           resampling=Resampling.nearest if categorical
                           else Resampling.bilinear)
        except RasterioError as exc:
            raise InvalidProductError(
                f"{self.item.id}: band {band} unreadable at {window}: {exc}") from exc

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> ProductReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
