"""Publishing a segmentation made elsewhere (the gRPC API's CreateProduct) as a land-cover item.

The same publisher as the pipeline's (stage -> checksum -> commit -> build -> upsert -> prune:
atomic, the item validated before it is registered), the same files (land cover and cloud mask
COGs, polygons, quicklook; no confidence: an external producer gives none), the same statistics,
tile invalidation and low-zoom redraw. The item's model is the producer's name (``external``
unless given), so its id is ``<product>_<model>_v<version>``, like every land-cover item's.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import shapely
from affine import Affine
from shapely.errors import ShapelyError

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from catalog_schemas.assets import (
    CLOUDMASK_ASSET,
    LANDCOVER_ASSET,
    POLYGONS_ASSET,
    THUMBNAIL_ASSET,
)
from catalog_schemas.assets import LANDCOVER_FILES as FILES
from catalog_schemas.items import Grid, ModelInfo, PublishedFile, landcover_item
from catalog_schemas.validation import ValidationError, validate_item
from ingest.catalog.publisher import publish
from ingest.catalog.register import landcover_definition
from ingest.errors import InvalidProductError
from ingest.outputs.cog import write_cog
from ingest.outputs.quicklook import write_thumbnail
from ingest.outputs.stats import landcover_stats
from ingest.outputs.vectors import vectorise, write_polygons
from ingest.pipeline import draw_after_registration
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)
MAX_GRID_CODE = len(clc.clc_classes())  # 44


@dataclass(frozen=True)
class ExternalSegmentation:
    """A segmentation of one product: its classes (CLC grid codes, 0 no data) and optional
    cloud mask (1 cloud, 0 clear) on the grid ``crs`` + ``transform``."""

    product_id: str
    footprint: dict[str, Any]  # GeoJSON geometry, WGS84
    sensed: datetime
    classes: np.ndarray
    cloud: np.ndarray | None
    crs: str
    transform: tuple[float, ...]
    model: str = "external"
    model_version: str = "1"
    properties: dict[str, Any] = field(default_factory=dict)  # kept on the source's record


def check(seg: ExternalSegmentation) -> None:
    """InvalidProductError naming what is wrong."""
    if not seg.product_id.strip() or "/" in seg.product_id:
        raise InvalidProductError(f"product_id {seg.product_id!r}: a non-empty id without '/'")
    for name in (seg.model, seg.model_version):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,63}", name):
            raise InvalidProductError(f"{seg.product_id}: model name or version {name!r}: "
                                      "letters, digits, '.' and '-' only")
    if seg.classes.ndim != 2 or 0 in seg.classes.shape:
        raise InvalidProductError(f"{seg.product_id}: the segmentation is empty")
    high = int(seg.classes.max())
    if high > MAX_GRID_CODE:
        raise InvalidProductError(f"{seg.product_id}: segmentation value {high} is not a CLC "
                                  f"grid code (1-{MAX_GRID_CODE}, 0 for no data)")
    if seg.cloud is not None:
        if seg.cloud.shape != seg.classes.shape:
            raise InvalidProductError(f"{seg.product_id}: cloud mask {seg.cloud.shape} and "
                                      f"segmentation {seg.classes.shape} differ in size")
        if int(seg.cloud.max()) > 1:
            raise InvalidProductError(f"{seg.product_id}: cloud mask values are 1 (cloud) "
                                      f"or 0 (clear), not {int(seg.cloud.max())}")
    try:
        shape = shapely.geometry.shape(seg.footprint)
    except (ShapelyError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidProductError(f"{seg.product_id}: the footprint is not a GeoJSON "
                                  f"geometry ({exc})") from exc
    if shape.is_empty or not shape.is_valid or shape.geom_type not in ("Polygon",
                                                                        "MultiPolygon"):
        raise InvalidProductError(f"{seg.product_id}: the footprint must be a valid polygon")


def platform_of(seg: ExternalSegmentation) -> str:
    """The satellite: the ``platform`` property, else the one the Sentinel-2 id names."""
    given = seg.properties.get("platform")
    if isinstance(given, str) and given.strip():
        return given.strip()
    unit = re.match(r"S2([A-D])_", seg.product_id)
    if unit is None:
        raise InvalidProductError(f"{seg.product_id}: properties.platform (e.g. sentinel-2a) "
                                  "is needed when the product id does not name the satellite")
    return f"sentinel-2{unit.group(1).lower()}"


def _epsg(crs: str) -> int:
    code = crs.upper().removeprefix("EPSG:")
    if not code.isdigit():
        raise InvalidProductError(f"CRS {crs!r}: an EPSG code (EPSG:32631) is needed")
    return int(code)


def publish_segmentation(seg: ExternalSegmentation, *, ingest: IngestSettings | None = None,
                         dsn: str = "") -> pystac.Item:
    """Register ``seg`` as a land-cover item with its files; the item as registered."""
    ingest = ingest or IngestSettings()
    check(seg)
    t0 = time.perf_counter()
    transform = Affine(*seg.transform[:6])
    classes = np.ascontiguousarray(seg.classes, dtype=np.uint8)
    mask = np.where(classes > 0, cm.CLEAR, cm.NODATA).astype(np.uint8) if seg.cloud is None \
        else np.where(seg.cloud > 0, cm.CLOUD, cm.CLEAR).astype(np.uint8)
    grid = Grid(epsg=_epsg(seg.crs), shape=(int(classes.shape[0]), int(classes.shape[1])),
                transform=tuple(seg.transform[:6]))
    statistics = landcover_stats(classes, mask).properties()
    if seg.cloud is None:
        statistics.pop("eo:cloud_cover", None)  # nothing said about clouds
    common: dict[str, Any] = {"crs": seg.crs, "transform": transform}
    source = pystac.Item(id=seg.product_id, geometry=seg.footprint,
                         bbox=list(shapely.geometry.shape(seg.footprint).bounds),
                         datetime=seg.sensed,
                         properties={"platform": platform_of(seg), **seg.properties})

    def write(staging: Path) -> dict[str, str]:
        write_cog(classes, staging / FILES[LANDCOVER_ASSET], nodata=clc.NODATA,
                  categorical=True, colormap=clc.colormap(), **common)
        names = {LANDCOVER_ASSET: FILES[LANDCOVER_ASSET]}
        if seg.cloud is not None:
            write_cog(mask, staging / FILES[CLOUDMASK_ASSET], nodata=cm.NODATA,
                      categorical=True, colormap=cm.colormap(), **common)
            names[CLOUDMASK_ASSET] = FILES[CLOUDMASK_ASSET]
        write_polygons(vectorise(classes, transform=transform, crs=seg.crs,
                                 min_area_m2=ingest.polygon_min_area_m2),
                       staging / FILES[POLYGONS_ASSET])
        write_thumbnail(classes, staging / FILES[THUMBNAIL_ASSET])
        return {**names, POLYGONS_ASSET: FILES[POLYGONS_ASSET],
                THUMBNAIL_ASSET: FILES[THUMBNAIL_ASSET]}

    def build(files: dict[str, PublishedFile]) -> pystac.Item:
        item = landcover_item(
            source=source, source_href=f"urn:earthsig:external-product:{seg.product_id}",
            model=ModelInfo(seg.model, seg.model_version), files=files, grid=grid,
            statistics=statistics,
            lineage_notes=("registered through the gRPC API's CreateProduct",))
        document = item.to_dict(include_self_link=False)
        # As the API answers it: an item naming its collection links to it (STAC core).
        document["links"].append({"rel": "collection", "href": "../collection.json"})
        try:
            validate_item(document)
        except ValidationError as exc:
            raise InvalidProductError(f"{seg.product_id}: {exc}") from exc
        return item

    item = publish(landcover_definition(), f"{seg.product_id}_{seg.model}_v{seg.model_version}",
                   write, build, ingest=ingest, dsn=dsn)
    timings: dict[str, float] = {}
    draw_after_registration(item.to_dict(include_self_link=False), seg.product_id, ingest,
                            timings)
    log.info("%s: external segmentation %d x %d registered as %s in %.2fs", seg.product_id,
             grid.shape[0], grid.shape[1], item.id, time.perf_counter() - t0)
    return item
