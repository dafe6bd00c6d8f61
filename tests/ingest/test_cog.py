"""COG writing: valid COG, colour table, nodata, MODE overviews, atomic output."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rio_cogeo.cogeo import cog_validate

from catalog_schemas import clc
from ingest.outputs.cog import write_cog

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


def _former_cog(data: np.ndarray, dst: Path, nodata: int, categorical: bool,
                colormap: dict | None) -> None:
    """The former writer, rio-cogeo's ``cog_translate`` from an in-memory GeoTIFF."""
    from rasterio.io import MemoryFile
    from rio_cogeo.cogeo import cog_translate

    from ingest.outputs.cog import cog_profile

    profile = {"driver": "GTiff", "dtype": data.dtype.name, "count": 1,
               "height": data.shape[0], "width": data.shape[1], "crs": "EPSG:32631",
               "transform": TRANSFORM, "nodata": nodata, "tiled": True,
               "blockxsize": 512, "blockysize": 512}
    with MemoryFile() as mem:
        with mem.open(**profile) as src:
            src.write(data, 1)
            if colormap:
                src.write_colormap(1, colormap)
        with mem.open() as src:
            cog_translate(src, str(dst), cog_profile(data.dtype.name), nodata=nodata,
                          overview_resampling="mode" if categorical else "average",
                          colormap=colormap, in_memory=False, quiet=True)


def _levels(path: Path) -> list[np.ndarray]:
    with rasterio.open(path) as src:
        levels = [src.read(1)] + [None] * len(src.overviews(1))
    for k in range(1, len(levels)):
        with rasterio.open(path, overview_level=k - 1) as src:
            levels[k] = src.read(1)
    return levels


@pytest.mark.parametrize("categorical", [True, False])
def test_cog_driver_writes_the_pixels_cog_translate_wrote(tmp_path: Path,
                                                          categorical: bool) -> None:
    # A generated scene: patches of classes with noise and nodata, or a confidence grid;
    # an odd size, so overviews round and edge tiles are partial.
    rng = np.random.default_rng(3)
    height, width = 2300, 1777
    patches = rng.integers(1, 45, size=(height // 50 + 1, width // 50 + 1), dtype=np.uint8)
    data = np.kron(patches, np.ones((50, 50), np.uint8))[:height, :width]
    speckle = rng.random((height, width)) < 0.2
    data[speckle] = rng.integers(1, 45, size=int(speckle.sum()), dtype=np.uint8)
    if not categorical:
        data = (data * 2 + rng.integers(0, 10, size=data.shape)).astype(np.uint8)
    nodata = 0 if categorical else 255
    data[:300, :400] = nodata
    colormap = clc.colormap() if categorical else None
    new = write_cog(data, tmp_path / "new.tif", crs="EPSG:32631", transform=TRANSFORM,
                    nodata=nodata, categorical=categorical, colormap=colormap)
    _former_cog(data, tmp_path / "old.tif", nodata, categorical, colormap)
    old_levels, new_levels = _levels(tmp_path / "old.tif"), _levels(new)
    assert len(new_levels) == len(old_levels) == 3  # full resolution, 1/2, 1/4
    for old, same in zip(old_levels, new_levels, strict=True):
        np.testing.assert_array_equal(same, old)
    with rasterio.open(new) as a, rasterio.open(tmp_path / "old.tif") as b:
        assert (a.nodata, a.block_shapes, a.profile["compress"]) == (
            b.nodata, b.block_shapes, b.profile["compress"])
        assert a.tags()["OVERVIEW_RESAMPLING"] == b.tags()["OVERVIEW_RESAMPLING"]
        if categorical:
            assert a.colormap(1) == b.colormap(1)
    assert cog_validate(str(new), quiet=True)[0]


def test_a_truncated_cog_is_caught_before_it_is_renamed(tmp_path: Path) -> None:
    # What a full disk leaves when GDAL does not report the failed flush: a file cut short.
    from ingest.outputs.cog import CogError, _check_written

    path = write_cog(_classes(), tmp_path / "lc.tif", crs="EPSG:32631", transform=TRANSFORM,
                     nodata=0, categorical=True)
    _check_written(path, _classes()[np.newaxis], path)  # complete: passes
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size - 100)
    with pytest.raises(CogError, match="written but incomplete: tile 3,3 of band 1"):
        _check_written(path, _classes()[np.newaxis], path)
