"""The nine bands Dynamic World reads (B02-B08, B11, B12), from every product layout.

The generator writes the red edges B05, B06 and B07 at 20 m like real products (``rededge1-3``
COG assets, ``R20m`` in SAFE L2A, native 20 m in SAFE L1C), their surface reflectance derived
from each class's red and NIR (``spectra.red_edge``). Every layout must give all nine back
through ``open_product(href, bands).read(window)`` on the 10 m grid, and a product missing one
must be refused naming the band.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from numpy.lib.stride_tricks import sliding_window_view
from rasterio.windows import Window

from catalog_schemas import clc
from ingest.errors import InvalidProductError
from ingest.readers import band_asset, load_product, open_product
from ingest.readers.bands import absolute_href, gdal_path
from samples import (
    BAND_NAMES,
    SIGNATURE_BANDS,
    SIGNATURES,
    SPECTRA,
    generate_scene,
    make_sample_product,
)
from samples.arrays import upsample2
from samples.changes import CONVERSION_SPECTRA
from samples.product import truth_folder
from samples.scene import _STREAMS
from samples.spectra import TOA_BAND_NAMES, TOA_PATH, dn_offset

NINE = ["B02", "B03", "B04", "B05", "B06", "B07", "B08", "B11", "B12"]
RED_EDGE = {"B05": ("rededge1", 0.704), "B06": ("rededge2", 0.74), "B07": ("rededge3", 0.783)}
TILE, DATE, SIZE, SEED = "T31TCJ", dt.date(2024, 7, 1), 128, 4
LAYOUTS = {  # name -> make_sample_product options
    "cog": {"layout": "cog", "baseline": "05.10"},
    "safe-l2a": {"layout": "safe", "baseline": "05.10"},
    "safe-l2a-zip": {"layout": "safe", "baseline": "03.01", "as_zip": True},
    "safe-l1c": {"layout": "safe", "level": "L1C", "baseline": "04.00"},
}
WINDOW = Window(8, 4, 112, 120)  # any window, not the whole product
BROADLEAF, WATER = clc.grid_code_of(311), clc.grid_code_of(512)


@pytest.fixture(scope="module")
def scene():
    return generate_scene(TILE, DATE, SIZE, seed=SEED)


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: make_sample_product(TILE, DATE, SIZE, tmp_path_factory.mktemp(name),
                                      seed=SEED, **options)
            for name, options in LAYOUTS.items()}


def _is_l1c(layout: str) -> bool:
    return LAYOUTS[layout].get("level") == "L1C"


def _truth(product: Path) -> np.ndarray:
    with rasterio.open(truth_folder(product) / "truth_landcover.tif") as src:
        return src.read(1)


def _interior(mask: np.ndarray, margin: int = 3) -> np.ndarray:
    """Pixels whose whole (2 margin + 1)^2 neighbourhood is in ``mask``: bilinear resampling
    of the 20 m bands mixes nothing else into them."""
    inside = np.zeros_like(mask)
    inside[margin:-margin, margin:-margin] = sliding_window_view(
        mask, (2 * margin + 1, 2 * margin + 1)).all(axis=(2, 3))
    return inside


# ------------------------------------------------------------------------------------ generator


def test_red_edge_rule_gives_leaf_and_straight_spectra() -> None:
    red, nir = BAND_NAMES.index("B04"), BAND_NAMES.index("B08")
    b05, b06, b07 = (BAND_NAMES.index(b) for b in ("B05", "B06", "B07"))
    for code, spectrum in {**SPECTRA, **CONVERSION_SPECTRA}.items():
        # The drawn bands keep their signature's values exactly.
        if code in SIGNATURES:
            assert tuple(spectrum[BAND_NAMES.index(b)] for b in SIGNATURE_BANDS) == \
                SIGNATURES[code]
        r, n = spectrum[red], spectrum[nir]
        way = [(spectrum[i] - r) / (n - r) for i in (b05, b06, b07)]  # fraction red -> NIR
        if code in (311, 312, 231):  # forests and pastures: a leaf's red edge
            assert r < spectrum[b05] < spectrum[b06] < spectrum[b07] < n, code
            assert way[0] < 0.2 and 0.6 <= way[1] <= 0.7 + 1e-9, code
            assert 0.85 <= spectrum[b07] / n <= 0.95, code
        else:  # soil, town, snow, water, burnt: the straight line by wavelength
            assert way == pytest.approx([0.039 / 0.177, 0.075 / 0.177, 0.118 / 0.177]), code
    water = SPECTRA[512]
    assert water[red] > water[b05] > water[b06] > water[b07] > water[nir]  # falling


def test_every_band_has_its_own_random_stream() -> None:
    assert len(set(_STREAMS)) == len(_STREAMS)
    assert set(_STREAMS) >= {*BAND_NAMES, *TOA_BAND_NAMES}


def test_existing_bands_are_unchanged_by_the_red_edges() -> None:
    """Pixels of the bands generated before B05-B07 joined (digests taken before): adding
    bands must never change what a seed gave the others."""
    scene = generate_scene("T32ULU", DATE, 101, seed=5, cloud_cover=50.0)
    expected = {
        ("B02", False): "bd1006df9d0490c2", ("B02", True): "1dbdd8fd14630d6e",
        ("B03", False): "d4db509337b43652", ("B03", True): "bb8bee142ac017d7",
        ("B04", False): "11d2ae09a19391d7", ("B04", True): "56ffde29354fec71",
        ("B08", False): "7fca30a2ee34419e", ("B08", True): "953abf85b6da28d0",
        ("B11", False): "a3f4be76ae47d2d6", ("B11", True): "1e1d60d2bbbd9db9",
        ("B12", False): "190214fd934ecac9", ("B12", True): "8726cfe91217110e",
        ("B01", True): "e5a544237c72c507", ("B8A", True): "768f00379048b0fa",
        ("B09", True): "068a0915a107b06f", ("B10", True): "49f7ce0cb676b63d",
    }
    for (band, toa), digest in expected.items():
        pixels = scene.reflectance(band, toa=toa).tobytes()
        assert hashlib.sha256(pixels).hexdigest()[:16] == digest, (band, toa)
    assert hashlib.sha256(scene.truth().tobytes()).hexdigest()[:16] == "00e48438dd4f11ad"
    assert hashlib.sha256(scene.scl().tobytes()).hexdigest()[:16] == "22a29f52f2b494a3"


def test_top_of_atmosphere_is_the_surface_plus_path_in_every_band(scene) -> None:
    """One definition of each band: L1C sees the L2A surface plus the band's path."""
    for band, path in zip(BAND_NAMES, TOA_PATH, strict=True):
        np.testing.assert_allclose(scene.reflectance(band, toa=True),
                                   scene.reflectance(band) + np.float32(path), atol=1e-6)
    assert list(TOA_PATH) == sorted(TOA_PATH, reverse=True)  # haze falls with wavelength


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_red_edges_are_written_at_20m(layout: str, products: dict[str, Path], scene) -> None:
    item = load_product(str(products[layout]))
    offset = dn_offset(LAYOUTS[layout]["baseline"])
    for band in RED_EDGE:
        asset = band_asset(item, band)
        with rasterio.open(gdal_path(absolute_href(asset.href, item.get_self_href()))) as src:
            assert src.res == (20, 20) and src.shape == (SIZE // 2, SIZE // 2)
            assert src.transform == scene.window(20).transform
            np.testing.assert_array_equal(
                src.read(1), scene.dn(band, offset=offset, toa=_is_l1c(layout)))


def test_cog_item_describes_the_red_edges_like_earth_search(products: dict[str, Path]) -> None:
    document = json.loads(products["cog"].read_text())
    for band, (key, wavelength) in RED_EDGE.items():
        asset = document["assets"][key]
        assert asset["href"] == f"./{band}.tif" and asset["gsd"] == 20
        (eo,) = asset["eo:bands"]
        assert (eo["name"], eo["common_name"], eo["center_wavelength"]) == \
            (band, "rededge", wavelength)
        (raster,) = asset["raster:bands"]
        assert raster["spatial_resolution"] == 20 and raster["data_type"] == "uint16"
        assert (raster["scale"], raster["offset"], raster["nodata"]) == (0.0001, -0.1, 0)
        assert asset["proj:shape"] == [SIZE // 2, SIZE // 2]


# ------------------------------------------------------------------------------------ readers


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_reads_the_nine_bands_on_the_10m_grid(layout: str,
                                                           products: dict[str, Path],
                                                           scene) -> None:
    toa = _is_l1c(layout)
    offset = dn_offset(LAYOUTS[layout]["baseline"])
    rows, cols = WINDOW.toslices()
    with open_product(str(products[layout]), NINE) as reader:
        assert reader.grid.transform == scene.window(10).transform
        assert (reader.grid.height, reader.grid.width) == (SIZE, SIZE)
        reflectance, valid = reader.read(WINDOW)
        raw = {band: reader.read_on_grid(band, WINDOW, categorical=True) for band in RED_EDGE}
    assert reflectance.shape == (9, WINDOW.height, WINDOW.width) and reflectance.dtype == np.float32
    assert valid.all()  # no clouds, no nodata
    assert np.isfinite(reflectance).all()
    assert (reflectance > 0).all() and (reflectance < 1.3).all()
    for i, band in enumerate(NINE):
        expected = scene.reflectance(band, toa=toa)
        if expected.shape != (SIZE, SIZE):  # 20 m: interpolated, so compare the means
            expected = upsample2(expected)[:SIZE, :SIZE]
        assert abs(float(reflectance[i].mean()) - float(expected[rows, cols].mean())) < 2e-3, band
    for band, dn in raw.items():  # the files hold the generator's DNs
        np.testing.assert_array_equal(
            dn, upsample2(scene.dn(band, offset=offset, toa=toa))[rows, cols])


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_vegetation_shows_a_red_edge_and_water_a_falling_one(layout: str,
                                                             products: dict[str, Path]) -> None:
    truth = _truth(products[layout])[WINDOW.toslices()]
    with open_product(str(products[layout]), NINE) as reader:
        reflectance, _ = reader.read(WINDOW)
    b04, b05, b06, b07, b08 = (reflectance[NINE.index(b)] for b in
                               ("B04", "B05", "B06", "B07", "B08"))
    forest = _interior(truth == BROADLEAF)
    assert forest.sum() > 50
    row, col = np.argwhere(forest)[forest.sum() // 2]  # one vegetation pixel
    assert b04[row, col] < b05[row, col] < b06[row, col] < b07[row, col] \
        <= b08[row, col] * 1.05
    # And over the whole forest, the generator's broad-leaved spectrum within the parcel's
    # brightness (+-10 %) and band (+-2 %) variation, plus the path at the top of the atmosphere.
    path = dict(zip(BAND_NAMES, TOA_PATH, strict=True)) if _is_l1c(layout) else {}
    for band in ("B04", "B05", "B06", "B07", "B08"):
        surface = float(np.median(reflectance[NINE.index(band)][forest])) - path.get(band, 0.0)
        assert surface == pytest.approx(SPECTRA[311][BAND_NAMES.index(band)], rel=0.13), band
    water = _interior(truth == WATER)
    assert water.sum() > 50
    red, e1, e2, e3 = (float(np.median(b[water])) for b in (b04, b05, b06, b07))
    assert red > e1 > e2 > e3 > 0.8 * red - 0.01


def test_stac_item_without_a_red_edge_is_refused_naming_it(products: dict[str, Path],
                                                           tmp_path: Path) -> None:
    source = products["cog"]
    folder = Path(shutil.copytree(source.parent, tmp_path / source.parent.name))
    item_path = folder / source.name
    document = json.loads(item_path.read_text())
    del document["assets"]["rededge2"]
    item_path.write_text(json.dumps(document))
    with pytest.raises(InvalidProductError,
                       match=r"S2A_31TCJ_20240701_0_L2A: no asset for band B06"):
        open_product(str(item_path), NINE)
    with open_product(str(item_path), [b for b in NINE if b != "B06"]) as reader:
        assert reader.read(WINDOW)[0].shape[0] == 8  # only what is missing is refused


@pytest.mark.parametrize("layout", ["safe-l2a", "safe-l2a-zip", "safe-l1c"])
def test_safe_without_a_red_edge_file_is_refused_naming_it(layout: str,
                                                           products: dict[str, Path],
                                                           tmp_path: Path) -> None:
    source = products[layout]
    if source.suffix == ".zip":
        copy = tmp_path / source.name
        with zipfile.ZipFile(source) as old, zipfile.ZipFile(copy, "w") as new:
            kept = [i for i in old.infolist() if "_B06" not in i.filename]
            assert len(kept) == len(old.infolist()) - 1
            for info in kept:
                new.writestr(info, old.read(info))
    else:
        copy = Path(shutil.copytree(source, tmp_path / source.name))
        (b06,) = copy.glob("GRANULE/*/IMG_DATA/**/*_B06*.jp2")
        b06.unlink()
    level = "1C" if _is_l1c(layout) else "2A"
    with pytest.raises(InvalidProductError, match=rf"S2A_MSIL{level}_\S+: no asset for band B06"):
        open_product(str(copy), NINE)
