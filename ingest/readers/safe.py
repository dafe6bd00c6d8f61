"""SAFE products (L2A and L1C, unpacked folder or zip) as a STAC item GDAL can read.

The item's band assets point at the JP2 files (``/vsizip/`` paths inside a zip, so nothing is
unpacked) and carry ``raster:bands`` scale/offset/nodata computed from the product's own
metadata; ``ProductReader`` then reads them like any other layout. Where a band exists at
several resolutions (L2A ``R10m``/``R20m``/``R60m``) the finest is used.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pystac

from ingest.errors import InvalidProductError
from ingest.readers.bands import SATURATED_KEY
from ingest.readers.safe_meta import SafeMetadata, parse_safe_metadata, parse_sun_angles

METADATA_FILES = ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml")
TILE_METADATA_FILE = "MTD_TL.xml"
VIEW_SCHEMA = "https://stac-extensions.github.io/view/v1.0.0/schema.json"
# GRANULE/<granule>/IMG_DATA[/R10m]/T31TCJ_20240701T105031_B02[_10m].jp2
_BAND_FILE = re.compile(
    r"GRANULE/[^/]+/IMG_DATA/(?:R(?P<folder>\d+)m/)?[^/]*_(?P<band>B\d[\dA]|SCL)"
    r"(?:_(?P<res>\d+)m)?\.jp2$")
_TILE = re.compile(r"_T(\d{2}[A-Z]{3})_")
# L1C files carry no resolution in their name: each band has one native resolution.
NATIVE_RESOLUTION = {"B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20,
                     "B07": 20, "B08": 10, "B8A": 20, "B09": 60, "B10": 60, "B11": 20,
                     "B12": 20, "SCL": 20}


@dataclass(frozen=True)
class SafeLocation:
    """Where a SAFE's files are: ``root`` is the ``.SAFE`` folder as GDAL names it."""

    href: str  # as given
    root: str  # folder path, or /vsizip/<zip>/<name>.SAFE
    files: tuple[str, ...]  # relative to root, POSIX separators
    metadata: bytes
    metadata_name: str
    tile_metadata: bytes | None = None  # GRANULE/<granule>/MTD_TL.xml: the sun angles


def is_safe(href: str) -> bool:
    path = Path(href)
    if href.lower().endswith(".zip") or path.name in METADATA_FILES:
        return True
    return path.is_dir() and (path.suffix.upper() == ".SAFE"
                              or any((path / name).exists() for name in METADATA_FILES))


def locate_safe(href: str) -> SafeLocation:
    path = Path(href)
    if path.name in METADATA_FILES:
        path = path.parent
    if path.is_dir():
        return _locate_folder(href, path)
    if path.is_file() and zipfile.is_zipfile(path):
        return _locate_zip(href, path)
    if path.is_file() and path.suffix.lower() == ".zip":
        raise InvalidProductError(f"{href}: neither a SAFE folder nor a zip archive (a .zip "
                                  f"truncated or corrupt: no zip directory at its end)")
    if path.is_file():
        raise InvalidProductError(f"{href}: neither a SAFE folder nor a zip archive")
    raise InvalidProductError(f"product not found: {href}")


def _locate_folder(href: str, path: Path) -> SafeLocation:
    for name in METADATA_FILES:
        if (path / name).is_file():
            files = tuple(p.relative_to(path).as_posix() for p in path.rglob("*.jp2"))
            tile = next(path.glob(f"GRANULE/*/{TILE_METADATA_FILE}"), None)
            return SafeLocation(href, str(path.resolve()), files, (path / name).read_bytes(),
                                name, tile.read_bytes() if tile else None)
    raise InvalidProductError(f"{href}: not a SAFE product (no {' or '.join(METADATA_FILES)})")


def _locate_zip(href: str, path: Path) -> SafeLocation:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            for name in names:
                inner = PurePosixPath(name)
                if inner.name in METADATA_FILES and len(inner.parts) == 2:
                    prefix = inner.parent.as_posix()
                    files = tuple(n[len(prefix) + 1:] for n in names
                                  if n.startswith(prefix + "/") and n.endswith(".jp2"))
                    tile = next((n for n in names if n.startswith(f"{prefix}/GRANULE/")
                                 and n.endswith(f"/{TILE_METADATA_FILE}")
                                 and n.count("/") == 3), None)
                    return SafeLocation(href, f"/vsizip/{path.resolve()}/{prefix}", files,
                                        archive.read(name), name,
                                        archive.read(tile) if tile else None)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidProductError(f"{href}: unreadable zip: {exc}") from exc
    raise InvalidProductError(f"{href}: a zip without a SAFE product inside "
                              f"(no <name>.SAFE/{' or '.join(METADATA_FILES)})")


def band_files(files: tuple[str, ...]) -> dict[str, tuple[str, int]]:
    """Band -> (file, resolution in metres), the finest file of each band."""
    found: dict[str, tuple[str, int]] = {}
    for name in files:
        match = _BAND_FILE.search(name)
        if match is None:
            continue
        band = match["band"]
        res = int(match["res"] or match["folder"] or NATIVE_RESOLUTION[band])
        if band not in found or res < found[band][1]:
            found[band] = (name, res)
    return found


def safe_item(href: str) -> pystac.Item:
    """The STAC item of the SAFE product at ``href`` (folder, zip or its MTD file)."""
    location = locate_safe(href)
    meta = parse_safe_metadata(location.metadata, f"{href}: {location.metadata_name}")
    bands = band_files(location.files)
    if not bands:
        raise InvalidProductError(f"{href}: no band files (GRANULE/*/IMG_DATA/*.jp2)")
    ring = [list(p) for p in meta.footprint]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    item = pystac.Item(
        id=meta.product_uri.removesuffix(".SAFE"),
        geometry={"type": "Polygon", "coordinates": [ring]},
        bbox=[min(lons), min(lats), max(lons), max(lats)],
        datetime=meta.start,
        properties=_properties(meta, bands),
    )
    if location.tile_metadata is not None:
        sun = parse_sun_angles(location.tile_metadata,
                               f"{href}: GRANULE/*/{TILE_METADATA_FILE}")
        if sun is not None:  # the STAC view extension's fields, as earth-search gives them
            item.properties["view:sun_elevation"] = round(90.0 - sun[0], 6)
            item.properties["view:sun_azimuth"] = round(sun[1], 6)
            item.stac_extensions.append(VIEW_SCHEMA)
    for band, (name, resolution) in sorted(bands.items()):
        item.add_asset(band, _asset(meta, band, f"{location.root}/{name}", resolution))
    return item


def _properties(meta: SafeMetadata, bands: dict[str, tuple[str, int]]) -> dict:
    props: dict = {
        "platform": meta.spacecraft.lower(),
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "processing:level": meta.level,
        "s2:processing_baseline": meta.baseline,
        "s2:product_type": meta.product_type,
        "s2:product_uri": meta.product_uri,
        "earthsig:layout": "safe",
    }
    if meta.cloud_cover is not None:
        props["eo:cloud_cover"] = meta.cloud_cover
    if meta.orbit is not None:
        props["sat:relative_orbit"] = meta.orbit
    tile = next((m.group(1) for name, _ in bands.values() if (m := _TILE.search(name))), None)
    if tile:
        props["grid:code"] = f"MGRS-{tile}"
    return props


def _asset(meta: SafeMetadata, band: str, href: str, resolution: int) -> pystac.Asset:
    raster: dict = {"spatial_resolution": resolution}
    extra: dict = {"gsd": resolution, "raster:bands": [raster]}
    if band == "SCL":
        raster.update(nodata=0, data_type="uint8")
    else:
        scale, offset = meta.scale_offset(band)
        raster.update(data_type="uint16", scale=scale, offset=offset)
        if meta.nodata is not None:
            raster["nodata"] = meta.nodata
        if meta.saturated is not None:
            extra[SATURATED_KEY] = meta.saturated
        extra["eo:bands"] = [{"name": band}]
    return pystac.Asset(href=href, media_type="image/jp2", roles=["data"],
                        title=f"{band} - {resolution}m", extra_fields=extra)
