"""The one product reader: bands described by a STAC item, read window by window on 10 m.

Every layout (earth-search COGs, SAFE L2A, SAFE L1C, folder or zip) becomes a ``pystac.Item``
whose band assets point at files GDAL can open and carry ``raster:bands`` scale, offset and
nodata; this reader only ever sees such an item. Bands may differ in resolution: the finest
requested band defines the grid and coarser ones (the 20 m red edges B05-B07, B11, B12, SCL)
are resampled onto it as they are read, so no band is ever held whole in memory.
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
from ingest.readers.checks import check_raster_place, declared_crs

EARTH_SEARCH_KEYS = {
    "B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge1",
    "B06": "rededge2", "B07": "rededge3", "B08": "nir", "B8A": "nir08", "B09": "nir09",
    "B10": "cirrus", "B11": "swir16", "B12": "swir22", "SCL": "scl",
}
DEFAULT_SCALE = 1e-4
# Processing baseline 04.00 (January 2022) added an offset of -1000 DN to reflectances; used only
# when an item gives neither an offset nor anything else to read it from.
BASELINE_OFFSET = -0.1
# ESA's "SATURATED" special value of 16-bit Sentinel-2 bands, unless the product says otherwise
# (SAFE metadata does, in Special_Values; it lands in the asset's ``earthsig:saturated``).
SATURATED_DN = 65535
SATURATED_KEY = "earthsig:saturated"


@dataclass(frozen=True)
class BandGrid:
    crs: rasterio.crs.CRS
    transform: rasterio.Affine
    height: int
    width: int


@dataclass(frozen=True)
class _Band:
    name: str
    dataset: rasterio.DatasetReader
    scale: float
    offset: float
    nodata: float | None
    saturated: float | None


def absolute_href(href: str, base: str | None) -> str:
    """``href`` resolved against the item's own location (URL or path); GDAL paths kept."""
    if urlparse(href).scheme or href.startswith("/") or base is None:
        return href
    if urlparse(base).scheme:
        return urljoin(base, href)
    return str((Path(base).parent / href).resolve())


def gdal_path(href: str) -> str:
    """What GDAL opens: HTTP(S) through ``/vsicurl/`` (range reads, never a whole download)."""
    if href.startswith(("http://", "https://")):
        return f"/vsicurl/{href}"
    if href.startswith("s3://"):
        return f"/vsis3/{href[5:]}"
    return href.removeprefix("file://")


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


class ProductReader:
    """Open the bands a model needs, then read any window as float32 reflectance."""

    def __init__(self, item: pystac.Item, bands: list[str]) -> None:
        self.item = item
        self.bands = bands
        self._stack = ExitStack()
        self._extra: dict[str, rasterio.DatasetReader] = {}
        try:
            self._bands = [self._open(band) for band in bands]
            self.grid = self._check_grid()
        except BaseException:
            self._stack.close()
            raise

    def _open(self, band: str) -> _Band:
        asset = band_asset(self.item, band)
        dataset = self._dataset(band, asset)
        raster = (asset.extra_fields.get("raster:bands") or [{}])[0]
        scale, offset = _scale_offset(self.item, asset)
        saturated = asset.extra_fields.get(
            SATURATED_KEY, SATURATED_DN if dataset.dtypes[0] == "uint16" else None)
        return _Band(band, dataset, scale, offset, raster.get("nodata", dataset.nodata),
                     saturated)

    def _dataset(self, band: str, asset: pystac.Asset) -> rasterio.DatasetReader:
        href = gdal_path(absolute_href(asset.href, self.item.get_self_href()))
        try:
            return self._stack.enter_context(rasterio.open(href))
        except RasterioError as exc:
            raise InvalidProductError(
                f"{self.item.id}: cannot open band {band} ({href}): {exc}") from exc

    def _check_grid(self) -> BandGrid:
        # The finest band defines the grid; coarser bands must cover it in the same CRS.
        finest = min(self._bands, key=lambda b: abs(b.dataset.transform.a))
        ref = finest.dataset
        if ref.crs is None:
            raise InvalidProductError(f"{self.item.id}: band {finest.name} has no CRS")
        for band in self._bands:
            ds = band.dataset
            same = (ds.crs, ds.transform, ds.shape) == (ref.crs, ref.transform, ref.shape)
            if not same and (ds.crs != ref.crs or not _covers(ds.bounds, ref.bounds)):
                raise InvalidProductError(
                    f"{self.item.id}: band {band.name} ({ds.width}x{ds.height} px) is not on "
                    f"the grid of {finest.name} ({ref.width}x{ref.height} px): "
                    f"{ds.crs} {tuple(ds.bounds)} vs {ref.crs} {tuple(ref.bounds)}")
            declared = declared_crs(self.item, band_asset(self.item, band.name))
            if declared is not None and declared != ds.crs:
                raise InvalidProductError(
                    f"{self.item.id}: band {band.name} is in {ds.crs} but the metadata says "
                    f"{declared} (wrong CRS)")
        check_raster_place(self.item, finest.name, ref.crs, ref.bounds)
        return BandGrid(ref.crs, ref.transform, ref.height, ref.width)

    def read(self, window: Window, *, shape: tuple[int, int] | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """(reflectance [bands, h, w] float32, valid [h, w] bool) for ``window``.

        Invalid: nodata or saturated in any band. With ``shape`` the window's area is read
        at that coarser size instead, each value the mean of the pixels it covers.
        """
        out_shape = shape or (int(window.height), int(window.width))
        out = np.empty((len(self._bands), *out_shape), np.float32)
        valid = np.ones(out_shape, dtype=bool)
        values = Resampling.average if shape else Resampling.bilinear
        for i, band in enumerate(self._bands):
            dn = self._on_grid(band.name, band.dataset, window, Resampling.nearest, shape)
            for special in (band.nodata, band.saturated):
                if special is not None:
                    valid &= dn != special
            if shape or band.dataset.transform != self.grid.transform:
                # Coarser band: validity from nearest, values interpolated between centres
                # (averaged when reading coarser than the grid).
                dn = self._on_grid(band.name, band.dataset, window, values, shape)
            np.multiply(dn, band.scale, out=out[i], casting="unsafe")
            out[i] += band.offset
        return out, valid

    def read_on_grid(self, band: str, window: Window, *, categorical: bool) -> np.ndarray:
        """Raw values of ``band`` (any resolution) resampled onto ``window`` of the 10 m grid.

        Categorical bands (SCL) are resampled with nearest so no class is invented.
        """
        if band not in self._extra:
            self._extra[band] = self._dataset(band, band_asset(self.item, band))
        return self._on_grid(band, self._extra[band], window,
                             Resampling.nearest if categorical else Resampling.bilinear)

    def _on_grid(self, band: str, ds: rasterio.DatasetReader, window: Window,
                 resampling: Resampling, shape: tuple[int, int] | None = None) -> np.ndarray:
        if shape is None:
            shape = (int(window.height), int(window.width))
        if ds.transform == self.grid.transform:
            src_window = window
        else:
            bounds = rasterio.windows.bounds(window, self.grid.transform)
            src_window = rasterio.windows.from_bounds(*bounds, transform=ds.transform)
        try:
            return ds.read(1, window=src_window, out_shape=shape, resampling=resampling)
        except RasterioError as exc:
            raise InvalidProductError(
                f"{self.item.id}: band {band} unreadable at {window} ({ds.name}): {exc}"
            ) from exc

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> ProductReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _covers(outer: rasterio.coords.BoundingBox, inner: rasterio.coords.BoundingBox) -> bool:
    return (outer.left <= inner.left and outer.bottom <= inner.bottom
            and outer.right >= inner.right and outer.top >= inner.top)
