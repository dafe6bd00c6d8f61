"""The asset contract: under which key, in which file and with which nodata value every
published asset lives, and the names of the colour maps that draw them.

The pipeline writes these files, the item builders describe them, the tiler and the time
series read them, the benchmarks fake them: each takes the names from here, so a key or a
nodata value cannot drift between the writer and its readers. The values are pinned by the
tests (published items keep their shape).
"""

from __future__ import annotations

from types import MappingProxyType

from catalog_schemas import clc, cloudmask

# --- landcover items (collection ``landcover``): one per product and model version ----------
LANDCOVER_ASSET = "landcover"  # uint8 COG, CLC grid codes 1-44
CONFIDENCE_ASSET = "confidence"  # uint8 COG, the model's confidence 0-100 (percent)
CLOUDMASK_ASSET = "cloudmask"  # uint8 COG, cloud-mask classes (catalog_schemas.cloudmask)
POLYGONS_ASSET = "polygons"  # GeoParquet of the land-cover polygons
THUMBNAIL_ASSET = "thumbnail"  # PNG quicklook in CLC colours

# Asset key -> file name in the item's folder of the asset store.
LANDCOVER_FILES: MappingProxyType[str, str] = MappingProxyType({
    LANDCOVER_ASSET: "landcover.tif",
    CONFIDENCE_ASSET: "confidence.tif",
    CLOUDMASK_ASSET: "cloudmask.tif",
    POLYGONS_ASSET: "polygons.parquet",
    THUMBNAIL_ASSET: "thumbnail.png",
})

LANDCOVER_NODATA = clc.NODATA  # 0: no class (nodata, or hidden by cloud)
CONFIDENCE_NODATA = 255  # outside 0-100: where the land cover has no class
CLOUDMASK_NODATA = cloudmask.NODATA  # 0: no measurement

# --- changes items (collection ``changes``) ---------------------------------------------------
CHANGE_ASSET = "change"  # uint16 COG, from_grid_code * 100 + to_grid_code
SUMMARY_ASSET = "summary"  # CSV of the area of each transition
CHANGE_NODATA = 0  # unknown: nodata or cloud in either input

# --- labels items (collection ``labels``): labelling candidates -------------------------------
LABELS_ASSET = "labels"  # the raster a labeller corrects, CLC level-3 codes
PREDICTION_ASSET = "prediction"  # the model's prediction, CLC level-3 codes
CHIP_ASSET = "chip"  # the image chip (B02, B03, B04, B08)
# ... and CONFIDENCE_ASSET, the window of the landcover item's confidence.

# --- colour maps the tiler registers and the collections' renders name ---------------------
CLC_COLORMAP_NAME = "clc"  # grid code -> CLC colour
CLOUDMASK_COLORMAP_NAME = "cloudmask"  # cloud-mask class -> colour
CHANGE_COLORMAP_NAME = "clc-change"  # change value -> colour of the new class
