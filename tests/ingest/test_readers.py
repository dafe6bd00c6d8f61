"""Reading every product layout: reflectances equal the generator's, for both baselines.

The generator keeps the float reflectances it encoded; every layout (earth-search COGs, SAFE
L2A folder and zip, SAFE L1C) must give them back within DN rounding (half a DN = 0.5e-4),
with the offset read from the product's own metadata.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from ingest.errors import InvalidProductError
from ingest.readers import load_product, open_product
from samples import generate_scene, make_sample_product
from samples.arrays import upsample2
from tests.models import built

TILE, DATE, SIZE, SEED, CLOUDS = "T31TCJ", dt.date(2024, 7, 1), 200, 11, 25.0
BANDS_10M = ["B02", "B03", "B04", "B08"]
HALF_DN = 0.5e-4 + 1e-6  # rounding to a whole DN, plus float32 arithmetic
LAYOUTS = {  # name -> (make_sample_product options)
    "cog-05.10": {"layout": "cog", "baseline": "05.10"},
    "cog-03.01": {"layout": "cog", "baseline": "03.01"},
    "safe-l2a-05.10": {"layout": "safe", "baseline": "05.10"},
    "safe-l2a-zip-03.01": {"layout": "safe", "baseline": "03.01", "as_zip": True},
    "safe-l1c-04.00": {"layout": "safe", "level": "L1C", "baseline": "04.00"},
    "safe-l1c-zip-02.14": {"layout": "safe", "level": "L1C", "baseline": "02.14",
                           "as_zip": True},
}
FULL = Window(0, 0, SIZE, SIZE)


@pytest.fixture(scope="module")
def scene():
    return generate_scene(TILE, DATE, SIZE, seed=SEED, cloud_cover=CLOUDS)


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: make_sample_product(TILE, DATE, SIZE, tmp_path_factory.mktemp(name),
                                      seed=SEED, cloud_cover=CLOUDS, **options)
            for name, options in LAYOUTS.items()}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_reflectance_is_the_generators_within_rounding(layout: str, products: dict[str, Path],
                                                       scene) -> None:
    toa = LAYOUTS[layout].get("level") == "L1C"
    with open_product(str(products[layout]), BANDS_10M) as reader:
        assert (reader.grid.height, reader.grid.width) == (SIZE, SIZE)
        assert reader.grid.transform == scene.window(10).transform
        reflectance, valid = reader.read(FULL)
        corner, _ = reader.read(Window(150, 120, 50, 64))  # any window, not only the whole
    assert valid.all()
    for i, band in enumerate(BANDS_10M):
        expected = scene.reflectance(band, toa=toa)
        np.testing.assert_allclose(reflectance[i], expected, rtol=0, atol=HALF_DN)
        np.testing.assert_allclose(corner[i], expected[120:184, 150:200], rtol=0, atol=HALF_DN)


def test_l1c_is_top_of_atmosphere_not_surface(products: dict[str, Path], scene) -> None:
    with open_product(str(products["safe-l1c-04.00"]), ["B02"]) as reader:
        toa = reader.read(FULL)[0][0]
    assert np.abs(toa - scene.reflectance("B02")).min() > 0.03  # the haze of the blue band


@pytest.mark.parametrize("layout", ["cog-05.10", "safe-l2a-05.10", "safe-l1c-04.00"])
def test_20m_bands_are_resampled_onto_the_10m_grid(layout: str, products: dict[str, Path],
                                                   scene) -> None:
    toa = "l1c" in layout
    with open_product(str(products[layout]), ["B11", "B04"]) as reader:  # coarse band first
        assert reader.grid.transform.a == 10 and reader.grid.height == SIZE
        reflectance, valid = reader.read(Window(0, 0, 100, 100))
        raw = reader.read_on_grid("B11", Window(0, 0, 100, 100), categorical=True)
    b11 = scene.reflectance("B11", toa=toa)  # 20 m, 100 x 100 px
    np.testing.assert_allclose(reflectance[1], scene.reflectance("B04", toa=toa)[:100, :100],
                               atol=HALF_DN)
    assert valid.all()
    nearest = upsample2(b11)[:100, :100]
    offset = 1000  # DN offset: the three products are of baseline >= 04.00
    assert np.abs(raw.astype(np.float32) / 1e4 - offset / 1e4 - nearest).max() <= HALF_DN
    # Bilinear values follow the 20 m band without copying it pixel for pixel.
    assert abs(float(reflectance[0].mean()) - float(nearest.mean())) < 2e-3
    assert np.corrcoef(reflectance[0].ravel(), nearest.ravel())[0, 1] > 0.95


@pytest.mark.parametrize("layout", ["cog-05.10", "safe-l2a-zip-03.01"])
def test_scl_is_resampled_by_nearest(layout: str, products: dict[str, Path], scene) -> None:
    with open_product(str(products[layout]), ["B04"]) as reader:
        scl = reader.read_on_grid("SCL", FULL, categorical=True)
    np.testing.assert_array_equal(scl, upsample2(scene.scl())[:SIZE, :SIZE])


def test_l1c_has_no_scl(products: dict[str, Path]) -> None:
    with (open_product(str(products["safe-l1c-04.00"]), ["B04"]) as reader,
          pytest.raises(InvalidProductError, match="no asset for band SCL")):
        reader.read_on_grid("SCL", FULL, categorical=True)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_product_metadata(layout: str, products: dict[str, Path]) -> None:
    item = load_product(str(products[layout]))  # the pipeline's and the queue's entry point
    reference = load_product(str(products["cog-05.10"]))
    options = LAYOUTS[layout]
    assert item.datetime == reference.datetime
    assert item.bbox == pytest.approx(reference.bbox, abs=1e-6)
    assert item.properties["s2:processing_baseline"] == options["baseline"]
    assert item.properties["eo:cloud_cover"] == pytest.approx(
        reference.properties["eo:cloud_cover"], abs=1e-5)
    assert item.properties["platform"] == "sentinel-2a"
    if options["layout"] == "safe":
        level = options.get("level", "L2A")
        assert item.id.startswith(f"S2A_MSI{level}_20240701T")
        assert item.id.endswith("_T31TCJ_" + item.id.rsplit("_", 1)[-1])
        assert item.properties["processing:level"] == level
        assert item.properties["grid:code"] == "MGRS-31TCJ"


def test_offset_comes_from_the_metadata(products: dict[str, Path], tmp_path: Path) -> None:
    source = products["safe-l2a-05.10"]
    copy = Path(shutil.copytree(source, tmp_path / source.name))
    mtd = copy / "MTD_MSIL2A.xml"
    mtd.write_text(mtd.read_text().replace(">-1000<", ">-900<"))
    with open_product(str(source), ["B04"]) as a, open_product(str(copy), ["B04"]) as b:
        shift = b.read(FULL)[0] - a.read(FULL)[0]
    np.testing.assert_allclose(shift, 0.01, atol=1e-6)


def _rewrite(path: Path, driver: str, edit) -> None:
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read(1)
    edit(data)
    path.unlink()
    options = {"QUALITY": "100", "REVERSIBLE": "YES"} if driver == "JP2OpenJPEG" else {}
    with rasterio.open(path, "w", **{**profile, "driver": driver, **options}) as dst:
        dst.write(data, 1)


@pytest.mark.parametrize("layout", ["cog-05.10", "safe-l2a-05.10"])
def test_nodata_and_saturated_pixels_are_masked(layout: str, products: dict[str, Path],
                                                tmp_path: Path) -> None:
    source = products[layout]
    root = Path(shutil.copytree(source.parent if layout.startswith("cog") else source,
                                tmp_path / "p"))
    if layout.startswith("cog"):
        product, band_file, driver = root / source.name, root / "B03.tif", "GTiff"
    else:
        product, driver = root, "JP2OpenJPEG"
        band_file = next(root.glob("GRANULE/*/IMG_DATA/R10m/*_B03_10m.jp2"))

    def edit(data: np.ndarray) -> None:
        data[5, 7], data[60, 61] = 0, 65535

    _rewrite(band_file, driver, edit)
    with open_product(str(product), BANDS_10M) as reader:
        _, valid = reader.read(FULL)
    assert not valid[5, 7] and not valid[60, 61]
    assert valid.sum() == SIZE * SIZE - 2


def test_missing_band_names_the_product_and_band(products: dict[str, Path],
                                                 tmp_path: Path) -> None:
    copy = Path(shutil.copytree(products["safe-l1c-04.00"], tmp_path / "p.SAFE"))
    next(copy.glob("GRANULE/*/IMG_DATA/*_B08.jp2")).unlink()
    with pytest.raises(InvalidProductError, match=r"S2A_MSIL1C_\S+: no asset for band B08"):
        open_product(str(copy), BANDS_10M)


def test_truncated_jp2_names_the_file(products: dict[str, Path], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(products["safe-l2a-05.10"], tmp_path / "p.SAFE"))
    jp2 = next(copy.glob("GRANULE/*/IMG_DATA/R10m/*_B04_10m.jp2"))
    jp2.write_bytes(jp2.read_bytes()[: jp2.stat().st_size // 3])
    with (pytest.raises(InvalidProductError, match=r"B04.*_B04_10m\.jp2"),
          open_product(str(copy), BANDS_10M) as reader):
        reader.read(FULL)


def test_zip_without_a_safe_is_refused(tmp_path: Path) -> None:
    import zipfile

    bad = tmp_path / "not-a-product.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("README.txt", "hello")
    with pytest.raises(InvalidProductError, match="not-a-product.zip: a zip without a SAFE"):
        load_product(str(bad))
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK but not really a zip")
    with pytest.raises(InvalidProductError, match="fake.zip: neither a SAFE folder nor a zip"):
        load_product(str(fake))


def test_broken_metadata_names_the_file(products: dict[str, Path], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(products["safe-l2a-05.10"], tmp_path / "p.SAFE"))
    (copy / "MTD_MSIL2A.xml").write_text("<oops")
    with pytest.raises(InvalidProductError, match=r"MTD_MSIL2A\.xml: not XML"):
        load_product(str(copy))
    (copy / "MTD_MSIL2A.xml").write_text("<a><PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL></a>")
    with pytest.raises(InvalidProductError, match=r"MTD_MSIL2A\.xml: no PRODUCT_URI"):
        load_product(str(copy))


def test_pipeline_reads_a_safe_zip_like_the_cog_product(
        products: dict[str, Path], tmp_path: Path, module_pgstac_dsn: str) -> None:
    """The same scene as SAFE zip and as COGs: the same land cover, pixel for pixel."""
    from inference.settings import InferenceSettings
    from ingest.pipeline import process_product
    from ingest.settings import IngestSettings

    ingest = IngestSettings(_env_file=None, home=tmp_path)
    inference = InferenceSettings(_env_file=None, model_repository=built(tmp_path / "models"))
    landcover = {}
    for layout in ("cog-03.01", "safe-l2a-zip-03.01"):
        result = process_product(str(products[layout]), ingest=ingest, inference=inference,
                                 dsn=module_pgstac_dsn)
        assert result.product_id == load_product(str(products[layout])).id
        runs = sorted((tmp_path / "assets").rglob(f"{result.item_id}/*/landcover.tif"))
        with rasterio.open(runs[-1]) as src:
            landcover[layout] = src.read(1)
    assert (landcover["cog-03.01"] > 0).mean() > 0.5
    np.testing.assert_array_equal(landcover["cog-03.01"], landcover["safe-l2a-zip-03.01"])
