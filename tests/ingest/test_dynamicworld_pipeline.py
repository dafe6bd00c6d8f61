"""What the pipeline does for a model trained on L1C with a coastline refinement
(clc-dynamicworld): TOA emulation of L2A, L1C as it is, water at sea, the item's classes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.windows import Window

from catalog_schemas import clc
from inference import dynamicworld as dw
from inference.settings import InferenceSettings
from ingest.clouds.haze import WAVELENGTHS_UM
from ingest.clouds.toa_emulation import (
    STANDARD_PATH_BLUE,
    STANDARD_PATH_RED,
    path_reflectance,
    toa_emulated,
)
from ingest.errors import InvalidProductError
from ingest.outputs.coastline import CELL_PX, land_mask, mark_marine_water
from ingest.pipeline import prepare_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built

DAY = date(2024, 7, 1)


def test_path_reflectance_is_a_power_law_through_blue_and_red() -> None:
    bands = list(dw.BANDS)
    path = path_reflectance(bands)
    assert path[0] == pytest.approx(STANDARD_PATH_BLUE)
    assert path[bands.index("B04")] == pytest.approx(STANDARD_PATH_RED)
    n = np.log(STANDARD_PATH_BLUE / STANDARD_PATH_RED) / np.log(0.665 / 0.49)
    for band, p in zip(bands, path, strict=True):
        assert p == pytest.approx(STANDARD_PATH_BLUE * (WAVELENGTHS_UM[band] / 0.49) ** -n,
                                  rel=1e-5)
    assert (np.diff(path) < 0).all()  # bands are in wavelength order: less scattering each


def test_toa_emulated_reader_adds_the_path_and_keeps_validity() -> None:
    surface = np.full((3, 4, 5), 0.1, np.float32)
    valid = np.ones((4, 5), bool)
    valid[0, 0] = False
    path = np.array([0.05, 0.02, 0.0], np.float32)
    read = toa_emulated(lambda w: (surface.copy(), valid), path)
    toa, v = read(Window(0, 0, 5, 4))
    np.testing.assert_allclose(toa[:, 1, 1], [0.15, 0.12, 0.1])
    assert (v == valid).all()


def _utm_grid(lon: float, lat: float, size: int) -> tuple[CRS, Affine]:
    crs = CRS.from_epsg(32600 + int((lon + 180) // 6) + 1)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    return crs, Affine(10, 0, x - size * 5, 0, -10, y + size * 5)


@pytest.mark.parametrize(("lon", "lat", "at_sea"), [
    (20.2, 62.3, True),  # Gulf of Bothnia, between Vaasa and Umeå
    (25.5, 61.5, False),  # lake Päijänne, Finland
    (12.0, 55.9, False),  # Zealand, Denmark
    (-9.8, 38.7, True),  # the Atlantic off Lisbon
])
def test_water_at_sea_becomes_marine(lon: float, lat: float, at_sea: bool) -> None:
    crs, transform = _utm_grid(lon, lat, 200)
    inland, marine = clc.grid_code_of(512), clc.grid_code_of(523)
    classes = np.full((200, 200), inland, np.uint8)
    classes[:, :20] = clc.grid_code_of(311)  # land classes are never touched
    moved = mark_marine_water(classes, crs, transform, inland, marine)
    assert (classes[:, :20] == clc.grid_code_of(311)).all()
    water = classes[:, 20:]
    assert (water == (marine if at_sea else inland)).all()
    assert moved == (water.size if at_sea else 0)
    assert land_mask(crs, transform, (200, 200)).shape == (200 // CELL_PX, 200 // CELL_PX)


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built(tmp_path_factory.mktemp("models"), "clc-dynamicworld")


def _prepare(product: Path, home: Path, repository: Path) -> dict:
    return prepare_product(
        str(product), "clc-dynamicworld",
        ingest=IngestSettings(_env_file=None, home=home),
        inference=InferenceSettings(_env_file=None, model_repository=repository)).item


def test_l2a_product_is_read_as_toa_and_the_item_lists_the_models_classes(
        tmp_path: Path, repository: Path) -> None:
    product = make_sample_product("T32TLS", DAY, 256, tmp_path / "s", seed=5)
    item = _prepare(product, tmp_path / "home", repository)
    lineage = item["properties"]["processing:lineage"]
    assert "top-of-atmosphere reflectance emulated" in lineage and "B02 +0.0700" in lineage
    assert "water at sea" in lineage
    assert item["properties"]["earthsig:model"] == "clc-dynamicworld:1"
    classes = item["assets"]["landcover"]["classification:classes"]
    assert sorted(c["name"] for c in classes) == sorted(f"clc-{c}" for c in dw.output_codes())
    with rasterio.open(item["assets"]["landcover"]["href"]) as src:
        grid = src.read(1)
    allowed = {0, *(clc.grid_code_of(c) for c in dw.output_codes())}
    assert set(np.unique(grid)) <= allowed
    with rasterio.open(item["assets"]["confidence"]["href"]) as src:
        confidence = src.read(1)
    # The winning class's probability, in percent: at least 1/9 wherever there is a class.
    assert (confidence[grid > 0] >= 11).all() and (confidence[grid > 0] <= 100).all()
    assert (confidence[grid == 0] == 255).all()


def test_l1c_product_goes_in_as_it_is(tmp_path: Path, repository: Path) -> None:
    product = make_sample_product("T32TLS", DAY, 256, tmp_path / "s", seed=5, level="L1C",
                                  layout="safe")
    item = _prepare(product, tmp_path / "home", repository)
    lineage = item["properties"]["processing:lineage"]
    # Dynamic World was trained on L1C: no haze removal, no emulation.
    assert "haze removed" not in lineage
    assert "emulated" not in lineage
    assert "clouds from s2cloudless" in lineage


def test_a_product_without_a_band_the_model_needs_is_refused_by_name(
        tmp_path: Path, repository: Path) -> None:
    product = make_sample_product("T32TLS", DAY, 128, tmp_path / "s", seed=5)
    item = pystac.Item.from_file(str(product))
    del item.assets["rededge1"]  # B05: Dynamic World reads it, clc-spectral does not
    item.save_object(include_self_link=False, dest_href=str(product))
    with pytest.raises(InvalidProductError, match="no asset for band B05"):
        _prepare(product, tmp_path / "home", repository)
    # Nothing half-written: no run of the item was left in the asset store.
    assert not list((tmp_path / "home").rglob("landcover.tif"))
