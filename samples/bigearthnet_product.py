"""A REAL Sentinel-2 L2A product, earth-search style, stitched from BigEarthNet v2 patches.

``build_product`` mosaics the T33UUP patches of 2017-06-13 (Austria) that lie in ``region`` onto
the tile's own grid: one COG per band at the band's native resolution (10, 20, 60 m), DN 0 =
nodata between the patches, and an earth-search-like STAC item with the real acquisition time,
CRS, transform and footprint (the union of the patch squares). The DNs are BigEarthNet's as
stored: reflectance x 10000 without offset (its own Sen2Cor run, ``N9999`` in the names), so the
assets carry scale 0.0001 and offset 0. There is no SCL: BigEarthNet does not keep it.

The patches' labels are the only truth: image-level, BigEarthNet's 19 classes (groups of CLC
level-3 classes), written beside the bands as ``truth_patches.geojson`` (the item's
``truth_patches`` asset). ``agreement`` scores a land-cover raster against them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pystac
import shapely
from affine import Affine
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.grid import GridExtension
from pystac.extensions.mgrs import MgrsExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from rasterio.warp import transform_geom
from shapely.geometry import box, mapping, shape

from catalog_schemas import clc
from ingest.outputs.atomic import atomic_file
from ingest.outputs.cog import write_cog
from ingest.readers.bands import EARTH_SEARCH_KEYS
from samples.bigearthnet import (
    BAND_RESOLUTION,
    DEFAULT_ROOT,
    PATCH_M,
    Patch,
    fixture_dir,
    read_patches,
)
from samples.s2grid import TileGrid, tile_grid

TILE, SENSING = "T33UUP", "20170613T101031"
# Patch columns x0..x1, rows y0..y1 (inclusive). Three blocks and one single patch (20 of the
# tile's 21) lie here; the 21st, 70_40, is 32 patches further east and would make the mosaic
# six times larger, mostly empty, for one cloudy patch.
REGION = (26, 38, 55, 90)
PRODUCT_ID = "S2A_33UUP_20170613_0_L2A_BENv2"
TRUTH_FILE = "truth_patches.geojson"
DN_NODATA = 0
DN_SCALE = 1e-4
ATTRIBUTION = ("Contains modified Copernicus Sentinel data 2017 (ESA). BigEarthNet v2 "
               "(reBEN, TU Berlin, CDLA-Permissive-1.0), from the configilm 0.7.1 wheel's "
               "test fixture.")
PROVIDERS = [
    {"name": "European Space Agency (Copernicus Sentinel data 2017)",
     "roles": ["producer", "licensor"], "url": "https://sentinels.copernicus.eu"},
    {"name": "BigEarthNet, TU Berlin (Remote Sensing Image Analysis group)",
     "roles": ["processor"], "url": "https://bigearthnet.eu"},
]


@dataclass(frozen=True)
class PatchScore:
    patch_id: str
    labels: tuple[str, ...]
    dominant_clc: int | None  # the most frequent predicted CLC code, None if no valid pixel
    hit: bool  # the dominant class is one of the patch's labels
    labelled_share: float  # share of classified pixels whose class is one of the labels


def build_product(out_dir: Path, *, root: Path = DEFAULT_ROOT,
                  region: tuple[int, int, int, int] = REGION) -> Path:
    """Write the product into ``out_dir/<id>/``; return its item JSON."""
    patches = region_patches(root, region)
    grid = tile_grid(TILE)
    folder = Path(out_dir) / PRODUCT_ID
    shapes = {}
    for band, resolution in BAND_RESOLUTION.items():
        mosaic, transform = _mosaic(patches, band, resolution, region, grid.ul_x, grid.ul_y)
        write_cog(mosaic, folder / f"{band}.tif", crs=grid.crs, transform=transform,
                  nodata=DN_NODATA, categorical=False,
                  tags={"BAND": band, "PRODUCT_ID": PRODUCT_ID, "ATTRIBUTION": ATTRIBUTION})
        shapes[band] = (mosaic.shape, transform)
    squares = [_square(p, grid.ul_x, grid.ul_y) for p in patches]
    footprint = _lonlat(shapely.union_all(squares), grid.crs)
    _write_truth(patches, squares, grid.crs, folder / TRUTH_FILE)
    item = _item(footprint, shapes, grid)
    # The item last, by rename: a reader that finds it finds a complete product.
    path = folder / f"{PRODUCT_ID}.json"
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(item.to_dict(include_self_link=False, transform_hrefs=False),
                                  indent=2))
    return path


def region_patches(root: Path, region: tuple[int, int, int, int] = REGION) -> list[Patch]:
    x0, x1, y0, y1 = region
    patches = [p for p in read_patches(fixture_dir(root), tile=TILE, sensing=SENSING)
               if x0 <= p.x <= x1 and y0 <= p.y <= y1]
    if not patches:
        raise ValueError(f"no {TILE} patch of {SENSING} in region {region}")
    return patches


def patch_window(patch: Patch, transform: Affine) -> tuple[slice, slice]:
    """Rows and columns of ``patch`` in a 10 m raster whose grid is ``transform``."""
    col = round((patch.x * PATCH_M + tile_grid(TILE).ul_x - transform.c) / transform.a)
    row = round((transform.f - (tile_grid(TILE).ul_y - patch.y * PATCH_M)) / -transform.e)
    side = round(PATCH_M / transform.a)
    return slice(row, row + side), slice(col, col + side)


def agreement(classes: np.ndarray, transform: Affine, patches: list[Patch]) -> list[PatchScore]:
    """Score CLC grid codes ``classes`` (0 = nodata) against each patch's image-level labels."""
    scores = []
    for patch in patches:
        rows, cols = patch_window(patch, transform)
        codes = classes[rows, cols]
        codes = codes[codes > 0]
        if codes.size == 0:
            scores.append(PatchScore(patch.patch_id, patch.labels, None, False, 0.0))
            continue
        as_clc = np.asarray(clc.clc_code_by_grid_code(), np.int32)[codes]
        values, counts = np.unique(as_clc, return_counts=True)
        dominant = int(values[np.argmax(counts)])
        labelled = float(np.isin(as_clc, patch.clc_codes).mean())
        scores.append(PatchScore(patch.patch_id, patch.labels, dominant,
                                 dominant in patch.clc_codes, labelled))
    return scores


def _mosaic(patches: list[Patch], band: str, resolution: int,
            region: tuple[int, int, int, int], ul_x: float, ul_y: float
            ) -> tuple[np.ndarray, Affine]:
    x0, x1, y0, y1 = region
    side = PATCH_M // resolution
    mosaic = np.full(((y1 - y0 + 1) * side, (x1 - x0 + 1) * side), DN_NODATA, np.uint16)
    for p in patches:
        row, col = (p.y - y0) * side, (p.x - x0) * side
        mosaic[row:row + side, col:col + side] = p.bands[band]
    transform = Affine(resolution, 0, ul_x + x0 * PATCH_M, 0, -resolution, ul_y - y0 * PATCH_M)
    return mosaic, transform


def _square(patch: Patch, ul_x: float, ul_y: float) -> shapely.Polygon:
    left, top = ul_x + patch.x * PATCH_M, ul_y - patch.y * PATCH_M
    return box(left, top - PATCH_M, left + PATCH_M, top)


def _lonlat(geometry: shapely.Geometry, crs: str) -> shapely.Geometry:
    # UTM straight edges are curves in lon/lat: densify before reprojecting.
    dense = shapely.segmentize(geometry, max_segment_length=PATCH_M / 4)
    return shape(transform_geom(crs, "EPSG:4326", mapping(dense), precision=8))


def _write_truth(patches: list[Patch], squares: list[shapely.Polygon], crs: str,
                 path: Path) -> None:
    features = [{
        "type": "Feature", "id": p.patch_id,
        "geometry": mapping(_lonlat(square, crs)),
        "properties": {"patch_id": p.patch_id, "x": p.x, "y": p.y, "labels": list(p.labels),
                       "clc_codes": list(p.clc_codes), "split": p.split,
                       "contains_cloud_or_shadow": p.cloud_or_shadow,
                       "contains_seasonal_snow": p.seasonal_snow,
                       "utm_bounds": list(square.bounds)},
    } for p, square in zip(patches, squares, strict=True)]
    path.write_text(json.dumps({"type": "FeatureCollection", "attribution": ATTRIBUTION,
                                "features": features}, indent=1))


def _item(footprint: shapely.Geometry, shapes: dict, grid: TileGrid) -> pystac.Item:
    sensed = dt.datetime.strptime(SENSING, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    item = pystac.Item(id=PRODUCT_ID, geometry=mapping(footprint),
                       bbox=[round(v, 8) for v in footprint.bounds], datetime=sensed,
                       properties={"providers": PROVIDERS, "earthsignature:generated": False,
                                   "earthsignature:attribution": ATTRIBUTION,
                                   "s2:product_uri": f"S2A_MSIL2A_{SENSING}_N9999_R022_{TILE}",
                                   "s2:product_type": "S2MSI2A", "license": "other"})
    item.common_metadata.platform = "sentinel-2a"
    item.common_metadata.constellation = "sentinel-2"
    item.common_metadata.instruments = ["msi"]
    ProjectionExtension.ext(item, add_if_missing=True).code = grid.crs
    MgrsExtension.ext(item, add_if_missing=True).apply(
        latitude_band=grid.latitude_band, grid_square=grid.grid_square, utm_zone=grid.utm_zone)
    GridExtension.ext(item, add_if_missing=True).code = grid.grid_code
    EOExtension.add_to(item)
    RasterExtension.add_to(item)
    for band, ((height, width), transform) in shapes.items():
        item.add_asset(EARTH_SEARCH_KEYS[band], _band_asset(band, height, width, transform))
    item.add_asset("truth_patches", pystac.Asset(
        href=f"./{TRUTH_FILE}", media_type=pystac.MediaType.GEOJSON, roles=["metadata"],
        title="BigEarthNet v2 patches with their image-level labels (19 classes, CLC codes)"))
    return item


def _band_asset(band: str, height: int, width: int, transform: Affine) -> pystac.Asset:
    resolution = BAND_RESOLUTION[band]
    asset = pystac.Asset(href=f"./{band}.tif", media_type=pystac.MediaType.COG, roles=["data"],
                         title=f"{band} - {resolution}m", extra_fields={"gsd": resolution})
    EOExtension.ext(asset).bands = [Band.create(name=band)]
    projection = ProjectionExtension.ext(asset)
    projection.shape = [height, width]
    projection.transform = list(transform)[:6]
    RasterExtension.ext(asset).bands = [RasterBand.create(
        nodata=DN_NODATA, data_type=DataType.UINT16, spatial_resolution=resolution,
        scale=DN_SCALE, offset=0.0)]
    return asset
