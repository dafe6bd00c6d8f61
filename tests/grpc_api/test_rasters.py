"""Reading the COGs as the old API's rasters: crops, overviews and the size limit, on a COG the
pipeline's writer makes."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio.warp import transform_bounds

from catalog_schemas import clc
from infra.grpc_api.queries import InvalidRequest, TooLarge
from infra.grpc_api.rasters import plan_reads, read
from ingest.outputs.cog import write_cog

SIZE = 1100  # two overview levels (550 and 275 px) at the writer's 512 px minimum


@pytest.fixture(scope="module")
def item(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("cog")
    classes = ((np.arange(SIZE)[:, None] // 50 + np.arange(SIZE)[None, :] // 70) % 44 + 1
               ).astype(np.uint8)
    transform = Affine(10, 0, 500_000, 0, -10, 4_800_000)
    path = write_cog(classes, folder / "landcover.tif", crs="EPSG:32631", transform=transform,
                     nodata=clc.NODATA, categorical=True, colormap=clc.colormap())
    bbox = transform_bounds("EPSG:32631", "EPSG:4326", 500_000, 4_800_000 - 10 * SIZE,
                            500_000 + 10 * SIZE, 4_800_000)
    return {"id": "x", "bbox": list(bbox), "assets": {"landcover": {"href": str(path)}}}


def test_a_whole_product_over_the_limit_names_the_overview_that_fits(item: dict) -> None:
    with pytest.raises(TooLarge, match=r"1100 x 1100 = 1210000 pixels.*limit of 400000 .*"
                                       r"EARTHSIG_GRPC_MAX_RASTER_PIXELS.*overview_level 1"):
        plan_reads([item], None, 0, 400_000)


def test_an_overview_holds_the_cogs_own_overview_pixels(item: dict) -> None:
    [plan] = plan_reads([item], None, 1, 400_000)
    rasters = read(plan, None)
    href = item["assets"]["landcover"]["href"]
    with rasterio.open(href, overview_level=0) as src:
        assert np.array_equal(rasters.classes, src.read(1))
    assert rasters.classes.shape == (550, 550) and rasters.transform[0] == 20.0
    with pytest.raises(InvalidRequest, match="overview_level: 3.*2 overview levels"):
        plan_reads([item], None, 3, 400_000)


def test_a_crop_is_the_files_pixels_inside_the_area(item: dict) -> None:
    x0, y0, x1, y1 = item["bbox"]
    area = shapely.box(x0 + (x1 - x0) * 0.3, y0 + (y1 - y0) * 0.3, x0 + (x1 - x0) * 0.5,
                       y0 + (y1 - y0) * 0.6)
    [plan] = plan_reads([item], area, 0, 400_000)
    rasters = read(plan, area)
    assert plan.window is not None
    with rasterio.open(item["assets"]["landcover"]["href"]) as src:
        window = src.read(1, window=plan.window)
    inside = rasters.classes > 0
    assert inside.mean() > 0.9  # only the edges of a slightly rotated box fall outside
    assert np.array_equal(rasters.classes[inside], window[inside])
