"""Writing a generated product in ESA's SAFE layout (L2A or L1C), as a folder or a zip.

L2A: ``GRANULE/<granule>/IMG_DATA/R10m/<tile>_<time>_B02_10m.jp2`` ... and ``R20m`` (the red
edges B05-B07, B11, B12, SCL, and 20 m copies of B02-B04 as real products carry them); L1C:
``GRANULE/<granule>/IMG_DATA/<tile>_<time>_B02.jp2`` with top-of-atmosphere DNs, each band at
its native resolution. JP2s are written losslessly by GDAL's JP2OpenJPEG driver, with their
georeferencing. L2A products carry the nine bands the land-cover models read (``BANDS``: B02-B08
and B11, B12); L1C products also the four more s2cloudless reads (B01, B8A, B09, B10): all 13
of a real product. The granule's ``MTD_TL.xml`` carries only its identity, CRS and
mean sun angles (those the generator cast its cloud shadows with); ``manifest.safe`` is not
written: readers take everything else from the product metadata file and the JP2s. The ground
truth goes beside the product, in ``<product id>.truth/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from shapely.geometry import MultiPolygon, Polygon

from samples.arrays import block_reduce
from samples.clouds import sun_position
from samples.safe_xml import SafeDescription, metadata_xml, tile_metadata_xml
from samples.scene import SampleScene
from samples.spectra import (
    BANDS,
    DN_SCALE,
    TOA_BANDS,
    dn_offset,
    to_dn,
)
from samples.stac import acquisition_time

ORBIT_SECONDS = 100.6 * 60  # Sentinel-2's orbital period
TWENTY_METRE_COPIES = ("B02", "B03", "B04")
JP2_OPTIONS = {"QUALITY": "100", "REVERSIBLE": "YES", "BLOCKXSIZE": "1024",
               "BLOCKYSIZE": "1024", "YCBCR420": "NO"}


@dataclass(frozen=True)
class SafeNames:
    product: str  # without .SAFE
    granule: str
    stem: str  # <tile>_<sensing time>, the prefix of every image file
    orbit: int
    absolute_orbit: int


def safe_names(scene: SampleScene, level: str, baseline: str,
               sensing: dt.datetime) -> SafeNames:
    tile = scene.grid.tile_id
    # Deterministic stand-ins: the real relative orbit over a tile comes from the ground track.
    orbit = int(hashlib.sha256(tile.encode()).hexdigest(), 16) % 143 + 1
    launch = dt.datetime(2015, 6, 23, tzinfo=dt.UTC)
    absolute = int((sensing - launch).total_seconds() // ORBIT_SECONDS)
    generated = sensing + dt.timedelta(hours=3)
    time = f"{sensing:%Y%m%dT%H%M%S}"
    unit = scene.platform[-1].upper()
    return SafeNames(
        product=f"S2{unit}_MSI{level}_{time}_N{baseline.replace('.', '')}_R{orbit:03d}"
                f"_T{tile}_{generated:%Y%m%dT%H%M%S}",
        granule=f"{level}_T{tile}_A{absolute:06d}_{time}",
        stem=f"T{tile}_{time}", orbit=orbit, absolute_orbit=absolute)


def write_safe(scene: SampleScene, scl: np.ndarray, out_dir: Path, *, level: str,
               baseline: str, cloud_cover: float, as_zip: bool) -> Path:
    """Write the product; return the ``.SAFE`` folder or the ``.zip`` (each written whole,
    under a temporary name, then renamed: a reader never finds half a product)."""
    sensing = acquisition_time(scene)
    names = safe_names(scene, level, baseline, sensing)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".safe-", dir=out_dir) as tmp:
        root = Path(tmp) / f"{names.product}.SAFE"
        files = _write_images(scene, scl, root, names, level, baseline)
        footprint = scene.footprint()
        description = SafeDescription(
            level=level, product_uri=root.name, baseline=baseline, sensing=sensing,
            spacecraft=f"Sentinel-2{scene.platform[-1].upper()}", orbit=names.orbit,
            footprint=_ring(footprint), cloud_cover=cloud_cover,
            image_files=[f.removesuffix(".jp2") for f in files],
            dn_offset=round(dn_offset(baseline) / DN_SCALE))
        (root / f"MTD_MSIL{level[1:]}.xml").write_bytes(metadata_xml(description))
        zenith, azimuth = sun_position(scene.grid.footprint.centroid.y, scene.date)
        (root / "GRANULE" / names.granule / "MTD_TL.xml").write_bytes(tile_metadata_xml(
            level, names.granule, sensing, scene.grid.epsg, zenith, azimuth))
        if as_zip:
            target = out_dir / f"{names.product}.zip"
            staged = Path(tmp) / target.name
            _zip(root, staged)
        else:
            target, staged = out_dir / root.name, root
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        staged.rename(target)
    return target


def _write_images(scene: SampleScene, scl: np.ndarray, root: Path, names: SafeNames,
                  level: str, baseline: str) -> list[str]:
    img = f"GRANULE/{names.granule}/IMG_DATA"
    offset = dn_offset(baseline)
    written: list[str] = []
    if level == "L1C":
        for band in (*BANDS, *(t.band for t in TOA_BANDS)):
            rel = f"{img}/{names.stem}_{band.name}.jp2"
            _write_jp2(root / rel, scene.dn(band.name, offset=offset, toa=True),
                       scene.window(band.resolution).transform, scene)
            written.append(rel)
        return written
    for band in BANDS:
        res = band.resolution
        reflectance = scene.reflectance(band.name)
        if band.name in TWENTY_METRE_COPIES:
            rel20 = f"{img}/R20m/{names.stem}_{band.name}_20m.jp2"
            _write_jp2(root / rel20, to_dn(_mean_2x2(reflectance), offset),
                       scene.window(20).transform, scene)
            written.append(rel20)
        rel = f"{img}/R{res}m/{names.stem}_{band.name}_{res}m.jp2"
        _write_jp2(root / rel, to_dn(reflectance, offset), scene.window(res).transform, scene)
        written.append(rel)
    rel = f"{img}/R20m/{names.stem}_SCL_20m.jp2"
    _write_jp2(root / rel, scl, scene.window(20).transform, scene)
    written.append(rel)
    return written


def _ring(footprint: Polygon | MultiPolygon) -> list[tuple[float, float]]:
    # A crop cut by the antimeridian comes back in pieces; its hull is outline enough here.
    polygon = footprint if isinstance(footprint, Polygon) else footprint.convex_hull
    return [(float(x), float(y)) for x, y in polygon.exterior.coords]


def _mean_2x2(reflectance: np.ndarray) -> np.ndarray:
    """10 m -> 20 m by averaging, the odd last row/column repeated to complete its block."""
    rows, cols = reflectance.shape
    padded = np.pad(reflectance, ((0, rows % 2), (0, cols % 2)), mode="edge")
    return block_reduce(padded, np.add) * np.float32(0.25)


def _write_jp2(path: Path, array: np.ndarray, transform: Affine, scene: SampleScene) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="JP2OpenJPEG", height=array.shape[0],
                       width=array.shape[1], count=1, dtype=array.dtype,
                       crs=scene.grid.crs, transform=transform, **JP2_OPTIONS) as dst:
        dst.write(array, 1)


def _zip(root: Path, target: Path) -> None:
    # JP2 is compressed already: store it, so GDAL's /vsizip/ reads it without inflating.
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, f"{root.name}/{path.relative_to(root).as_posix()}")
