"""COG writing: valid COG, colour table, nodata, MODE overviews, atomic output."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rio_cogeo.cogeo import cog_validate

from catalog_schemas import clc
from ingest.cog import write_cog

TRANSFORM = Affine(10, 0, 300000, 0, -10, 4900020)


def _classes() -> np.ndarray:
    # Columns alternate water (41) and forest (23) in a 3:1 ratio: an averaging overview
    # would invent class 36 (peat bogs); MODE keeps water.
    a = np.full((2048, 2048), 41, np.uint8)
    a[:, 3::4] = 23
    a[:64, :64] = 0
    return a


def test_categorical_cog(tmp_path: Path) -> None:
    path = write_cog(_classes(), tmp_path / "lc.tif", crs="EPSG:32631", transform=TRANSFORM,
                     nodata=0, categorical=True, colormap=clc.colormap())
    valid, errors, _ = cog_validate(str(path), quiet=True)
    assert valid, errors
    with rasterio.open(path) as src:
        assert src.nodata == 0
        assert src.block_shapes[0] == (512, 512)
        assert src.colormap(1)[41] == (128, 242, 230, 255)
        assert src.colormap(1)[23] == (128, 255, 0, 255)
        assert src.overviews(1) == [2, 4]
        assert src.profile["compress"] == "deflate"
        overview = src.read(1, out_shape=(512, 512), resampling=Resampling.nearest)
    assert set(np.unique(overview)) <= {0, 23, 41}
    assert (overview[32:, 32:] == 41).mean() > 0.99
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(Exception):  # noqa: B017 - GDAL's error type varies with the cause
        write_cog(_classes(), tmp_path / "lc.tif", crs="EPSG:999999", transform=TRANSFORM,
                  nodata=0, categorical=True)
    assert list(tmp_path.iterdir()) == []
