"""Cloud-mask classes: the values of every ``cloudmask`` asset, with colours for the tiler."""

from __future__ import annotations

from dataclasses import dataclass

from catalog_schemas.clc import RGBA


@dataclass(frozen=True)
class CloudClass:
    value: int
    name: str
    description: str
    rgb: tuple[int, int, int]

    @property
    def hex_color(self) -> str:
        return "{:02X}{:02X}{:02X}".format(*self.rgb)


NODATA = 0
CLEAR, CLOUD, THIN_CLOUD, SHADOW, SNOW = 1, 2, 3, 4, 5

CLOUD_CLASSES: tuple[CloudClass, ...] = (
    CloudClass(CLEAR, "clear", "Clear land or water", (54, 160, 64)),
    CloudClass(CLOUD, "cloud", "Opaque cloud", (255, 255, 255)),
    CloudClass(THIN_CLOUD, "thin-cloud", "Thin, semi-transparent cloud", (170, 210, 255)),
    CloudClass(SHADOW, "shadow", "Cloud shadow", (60, 60, 60)),
    CloudClass(SNOW, "snow", "Snow or ice", (0, 255, 255)),
)

# Pixels that hide the land cover: excluded from class statistics and masked in mosaics.
OBSCURED = (CLOUD, THIN_CLOUD, SHADOW)


# Sen2Cor's scene classification (SCL, the L2A product's own per-pixel classes) -> cloud-mask
# value; index = SCL value 0-11. One table for the pipeline's SCL cloud mask
# (``ingest.clouds.cloudmask``) and the ``cloud-scl`` reference model (``inference.reference``).
SCL_TO_CLOUDMASK: tuple[int, ...] = (
    NODATA,  # 0 no data
    NODATA,  # 1 saturated or defective: no usable measurement
    CLEAR,  # 2 dark area pixels (terrain shadow, dark surfaces)
    SHADOW,  # 3 cloud shadows
    CLEAR,  # 4 vegetation
    CLEAR,  # 5 not vegetated
    CLEAR,  # 6 water
    CLEAR,  # 7 unclassified
    CLOUD,  # 8 cloud, medium probability
    CLOUD,  # 9 cloud, high probability
    THIN_CLOUD,  # 10 thin cirrus
    SNOW,  # 11 snow or ice
)


def colormap() -> dict[int, RGBA]:
    """Value -> RGBA, nodata transparent."""
    cmap: dict[int, RGBA] = {NODATA: (0, 0, 0, 0)}
    cmap.update({c.value: (*c.rgb, 255) for c in CLOUD_CLASSES})
    return cmap
