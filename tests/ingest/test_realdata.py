"""Real Sentinel-2 L2A pixels through the whole chain: BigEarthNet v2 patches of T33UUP.

The product is stitched here from the fixture ``make install`` unpacks from configilm's wheel;
its truth is each patch's image-level labels (BigEarthNet's 19 classes = groups of CLC codes).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from pyproj import Transformer
from rasterio.windows import Window
from shapely.geometry import box, shape
from shapely.ops import transform as reproject

from catalog_schemas import clc
from inference.settings import InferenceSettings
from ingest.catalog.pgstac_db import pgstac_session
from ingest.pipeline import process_product
from ingest.readers import open_product
from ingest.settings import IngestSettings
from samples.bigearthnet import DEFAULT_ROOT, BigEarthNetDataError, Patch, fixture_dir
from samples.bigearthnet_product import (
    PRODUCT_ID,
    TRUTH_FILE,
    agreement,
    build_product,
    patch_window,
    region_patches,
)
from samples.s2grid import tile_grid
from tests.models import built

ROOT = Path(__file__).parents[2] / DEFAULT_ROOT
# Measured with clc-spectral:1 (docs/models.md, "Real pixels"); the model is not tuned to them.
MIN_DOMINANT_HITS = 17  # of 20 patches, against 16 for a constant "broad-leaved forest"
MIN_MEAN_LABELLED_SHARE = 0.75


@pytest.fixture(scope="module")
def patches() -> list[Patch]:
    try:
        return region_patches(ROOT)
    except BigEarthNetDataError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def product(patches: list[Patch], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_product(tmp_path_factory.mktemp("real"), root=ROOT)


@pytest.fixture(scope="module")
def registered(product: Path, tmp_path_factory: pytest.TempPathFactory,
               module_pgstac_dsn: str) -> dict:
    home = tmp_path_factory.mktemp("home")
    process_product(str(product), ingest=IngestSettings(_env_file=None, home=home),
                    inference=InferenceSettings(_env_file=None,
                                                model_repository=built(home / "models")),
                    dsn=module_pgstac_dsn)
    with pgstac_session(module_pgstac_dsn) as db:
        [item] = [row[0] for row in db.query("SELECT content_hydrate(items) FROM items")]
    return item


def test_the_fixture_is_the_expected_extract(patches: list[Patch]) -> None:
    assert len(patches) == 20 and {p.tile for p in patches} == {"33UUP"}
    assert sum(not p.clean for p in patches) == 2  # 38_58 and 38_87: cloud or shadow
    assert {(p.x, p.y) for p in patches} >= {(37, 88), (37, 89), (37, 90), (38, 87), (38, 88),
                                             (38, 89), (38, 90)}


def test_bands_are_the_patches_dns_on_the_tile_grid(product: Path,
                                                    patches: list[Patch]) -> None:
    folder = product.parent
    with rasterio.open(folder / "B04.tif") as b04, rasterio.open(folder / "B11.tif") as b11:
        assert b04.crs.to_epsg() == 32633 and b04.res == (10, 10) and b11.res == (20, 20)
        # The mosaic's corner is patch (26, 55) of the tile whose corner is (300000, 5400000).
        assert (b04.transform.c, b04.transform.f) == (300000 + 26 * 1200, 5400000 - 55 * 1200)
        data, data20 = b04.read(1), b11.read(1)
        covered = np.zeros(data.shape, bool)
        for patch in patches:
            rows, cols = patch_window(patch, b04.transform)
            np.testing.assert_array_equal(data[rows, cols], patch.bands["B04"])
            covered[rows, cols] = True
            r20, c20 = (slice(s.start // 2, s.stop // 2) for s in (rows, cols))
            np.testing.assert_array_equal(data20[r20, c20], patch.bands["B11"])
    assert (data[~covered] == 0).all() and (data[covered] > 0).all()


def test_reflectance_is_dn_over_10000_without_offset(product: Path,
                                                     patches: list[Patch]) -> None:
    patch = next(p for p in patches if (p.x, p.y) == (37, 88))
    with open_product(str(product), ["B02", "B08", "B12"]) as reader:
        rows, cols = patch_window(patch, reader.grid.transform)
        window = Window(cols.start, rows.start, 120, 120)
        reflectance, valid = reader.read(window)
    assert valid.all()
    np.testing.assert_allclose(reflectance[0], patch.bands["B02"] / 1e4, atol=1e-6)
    np.testing.assert_allclose(reflectance[1], patch.bands["B08"] / 1e4, atol=1e-6)
    # A forest in June: dark in blue (< 0.1 with no -0.1 offset), bright in NIR.
    assert np.median(reflectance[0]) < 0.05 and np.median(reflectance[1]) > 0.25
    assert abs(float(reflectance[2].mean()) - patch.bands["B12"].mean() / 1e4) < 1e-3


def test_item_has_the_real_date_crs_and_footprint(registered: dict, product: Path,
                                                  patches: list[Patch]) -> None:
    assert registered["properties"]["earthsig:source_product"] == PRODUCT_ID
    assert registered["properties"]["datetime"] == "2017-06-13T10:10:31Z"
    assert registered["properties"]["proj:code"] == "EPSG:32633"
    source = pystac.Item.from_file(str(product))
    assert source.datetime == dt.datetime(2017, 6, 13, 10, 10, 31, tzinfo=dt.UTC)
    footprint = shape(registered["geometry"])
    assert footprint.equals_exact(shape(source.geometry), 1e-9)
    # In UTM the footprint is the 20 patch squares, 1.44 km2 each, inside the tile.
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True).transform
    utm = reproject(to_utm, footprint)
    assert utm.area == pytest.approx(20 * 1200 * 1200, rel=1e-4)
    grid = tile_grid("T33UUP")
    assert box(grid.ul_x, grid.ul_y - grid.size_m, grid.ul_x + grid.size_m,
               grid.ul_y).contains(utm.buffer(-1))


def test_truth_and_attribution_travel_with_the_product(product: Path) -> None:
    truth = json.loads((product.parent / TRUTH_FILE).read_text())
    assert len(truth["features"]) == 20
    assert "Copernicus Sentinel data 2017" in truth["attribution"]
    item = pystac.Item.from_file(str(product))
    assert "BigEarthNet" in item.properties["earthsignature:attribution"]
    assert item.properties["earthsignature:generated"] is False
    first = truth["features"][0]["properties"]
    assert first["patch_id"].endswith("_T33UUP_27_55") and 311 in first["clc_codes"]


def test_landcover_agrees_with_the_patch_labels(registered: dict,
                                                patches: list[Patch]) -> None:
    with rasterio.open(registered["assets"]["landcover"]["href"]) as src:
        classes, transform = src.read(1), src.transform
    scores = agreement(classes, transform, patches)
    hits = sum(s.hit for s in scores)
    labelled = float(np.mean([s.labelled_share for s in scores]))
    print(f"\nreal pixels: dominant class among the labels in {hits}/{len(scores)} patches; "
          f"mean labelled share {labelled:.3f}")
    assert hits >= MIN_DOMINANT_HITS
    assert labelled >= MIN_MEAN_LABELLED_SHARE
    # No class outside the patches: the gaps between them are nodata.
    covered = np.zeros(classes.shape, bool)
    for patch in patches:
        covered[patch_window(patch, transform)] = True
    assert (classes[~covered] == 0).all() and (classes[covered] > 0).mean() > 0.99
    found = {int(c) for c in registered["properties"]["clc:classes"]}
    assert found - {code for p in patches for code in p.clc_codes} == {335}
    # "Glaciers" in Austria in June: bright cloud and roofs, with no SCL to mask them.
    assert registered["properties"]["clc:fraction_335"] < 0.02
    glacier = clc.grid_code_of(335)
    cloudy = [p for p in patches if not p.clean]
    in_cloudy = sum(int((classes[patch_window(p, transform)] == glacier).sum()) for p in cloudy)
    assert in_cloudy > 0.5 * (classes == glacier).sum()


def test_missing_fixture_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(BigEarthNetDataError, match="make install"):
        fixture_dir(tmp_path)
