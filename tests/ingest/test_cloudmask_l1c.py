"""L1C products get a cloud mask too: s2cloudless on their top-of-atmosphere bands, snow by NDSI,
shadows where the clouds project away from the sun.

Checked against the generator's cloud truth on a generated L1C SAFE product with clouds and a
glacier, through the reader (JP2 at 10, 20 and 60 m) and through the whole pipeline.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from scipy import ndimage

from catalog_schemas import cloudmask as cm
from inference import s2cloudless
from inference.settings import InferenceSettings
from ingest.catalog.pgstac_db import pgstac_session
from ingest.clouds import cloudmask_toa
from ingest.clouds.cloud_shadows import cast_shadows, sun_angles
from ingest.clouds.cloudmask_toa import cloudmask_from_toa, has_toa_bands, is_l1c
from ingest.clouds.haze import scattering_haze
from ingest.clouds.maskers import NoMasker, SclMasker, ToaMasker, masker_for
from ingest.pipeline import prepare_product, process_product
from ingest.readers import load_product
from ingest.settings import IngestSettings
from samples import generate_scene, make_sample_product
from samples.product import truth_folder
from samples.spectra import BAND_NAMES, TOA_PATH
from tests.models import built

DAY = date(2024, 7, 1)
SIZE = 768
SEED = 11  # a scene with a glacier parcel: snow that s2cloudless alone calls cloud
CLOUDY = (cm.CLOUD, cm.THIN_CLOUD)
# A real 13-band L1C image with s2cloudless's own mask (`make install`, s2cloudless 1.2.2 sdist).
REAL_SCENE = Path(__file__).parents[2] / ".earthsig/testdata/s2cloudless/input_arrays.npz"


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_product("T32TLS", DAY, SIZE, tmp_path_factory.mktemp("l1c"), seed=SEED,
                               cloud_cover=25, level="L1C", layout="safe")


@pytest.fixture(scope="module")
def truth(product: Path) -> np.ndarray:
    with rasterio.open(truth_folder(product) / "truth_cloudmask.tif") as src:
        return src.read(1)


@pytest.fixture(scope="module")
def opacity() -> np.ndarray:
    """The generated clouds' opacity (0-1) on the 10 m grid."""
    scene = generate_scene("T32TLS", DAY, SIZE, seed=SEED, cloud_cover=25)
    return scene.clouds.alpha[:SIZE, :SIZE]


@pytest.fixture(scope="module")
def mask(product: Path) -> np.ndarray:
    return cloudmask_from_toa(load_product(str(product)), SIZE, SIZE)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_the_scene_has_clouds_snow_and_clear_sky(truth: np.ndarray) -> None:
    for value, least in ((cm.CLOUD, 0.10), (cm.SNOW, 0.005), (cm.CLEAR, 0.3)):
        assert (truth == value).mean() > least, value


def test_clouds_agree_with_the_truth(mask: np.ndarray, truth: np.ndarray,
                                     opacity: np.ndarray) -> None:
    cloudy, found = np.isin(truth, CLOUDY), mask == cm.CLOUD
    assert (cloudy == found).mean() > 0.95
    assert found[truth == cm.CLEAR].mean() < 0.005  # no cloud in a clear sky
    assert found[truth == cm.CLOUD].mean() > 0.97  # opaque clouds found whole
    # What is missed is the faintest veil at cloud edges (the truth calls any opacity thin
    # cloud): clouds of 10 % opacity and more are found, and their outline is right.
    visible = opacity >= 0.1
    assert found[visible].mean() > 0.9
    assert _iou(visible, found) > 0.88
    assert found[(opacity > 0) & ~visible].mean() < 0.2
    assert set(np.unique(mask)) == {cm.CLEAR, cm.CLOUD, cm.SHADOW, cm.SNOW}  # never nodata


def test_shadows_agree_with_the_truth(mask: np.ndarray, truth: np.ndarray) -> None:
    shadow, found = truth == cm.SHADOW, mask == cm.SHADOW
    assert shadow.mean() > 0.02
    assert found[shadow].mean() > 0.8
    assert _iou(shadow, found) > 0.75
    assert found[truth == cm.CLEAR].mean() < 0.002  # dark ground outside the cast: clear


def test_shadows_need_the_sun_where_it_is(product: Path, mask: np.ndarray,
                                          truth: np.ndarray) -> None:
    item = load_product(str(product))
    assert item.properties["view:sun_azimuth"] == pytest.approx(150.0)  # from MTD_TL.xml
    shadow = truth == cm.SHADOW
    item.properties["view:sun_azimuth"] = 330.0  # the sun on the other side
    wrong = cloudmask_from_toa(item, SIZE, SIZE) == cm.SHADOW
    assert _iou(shadow, wrong) < _iou(shadow, mask == cm.SHADOW) - 0.3
    del item.properties["view:sun_azimuth"]
    assert cm.SHADOW not in np.unique(cloudmask_from_toa(item, SIZE, SIZE))


def test_snow_is_snow_not_cloud(mask: np.ndarray, truth: np.ndarray) -> None:
    snow, sky = truth == cm.SNOW, np.isin(truth, (cm.CLEAR, cm.SNOW))
    assert ((mask == cm.SNOW) == snow)[sky].mean() > 0.99  # edges at 60 m
    assert (mask[snow] == cm.CLOUD).mean() < 0.05


def test_without_the_snow_test_s2cloudless_calls_snow_cloud(
        product: Path, truth: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudmask_toa, "NDSI_SNOW", 2.0)  # no NDSI exceeds 1: snow test off
    plain = cloudmask_from_toa(load_product(str(product)), SIZE, SIZE)
    assert (plain[truth == cm.SNOW] == cm.CLOUD).mean() > 0.2


def test_strips_give_the_whole_image_answer(product: Path, mask: np.ndarray,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    item = load_product(str(product))
    coarse = cloudmask_toa._coarse(item, SIZE, SIZE, 60)
    factor = coarse.factor
    fine = ndimage.zoom(coarse.classes.probability, factor, order=1, grid_mode=True, mode="nearest")
    whole = s2cloudless.cloud_mask(fine[:SIZE, :SIZE]).astype(bool)

    def on_10m(a: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(a, factor, 0), factor, 1)[:SIZE, :SIZE]

    expected = np.where(whole, cm.CLOUD, cm.CLEAR)
    shadow = cast_shadows(coarse.classes.probability > s2cloudless.THRESHOLD, coarse.classes.dark,
                          sun_angles(item), 60)
    expected[on_10m(shadow) & ~whole] = cm.SHADOW
    expected[on_10m(coarse.classes.snow)] = cm.SNOW
    np.testing.assert_array_equal(mask, expected)
    monkeypatch.setattr(cloudmask_toa, "STRIP_ROWS", 97)  # strips not aligned to anything
    # Coarse strips keep whole blocks of the JP2s' own reduced resolutions (GDAL reads those
    # when asked for a coarser picture), as the 256 rows of the default do.
    monkeypatch.setattr(cloudmask_toa, "COARSE_STRIP_ROWS", 32)
    np.testing.assert_array_equal(cloudmask_from_toa(item, SIZE, SIZE), expected)


def test_at_20_m_as_at_60_m(product: Path, mask: np.ndarray, opacity: np.ndarray) -> None:
    fine = cloudmask_from_toa(load_product(str(product)), SIZE, SIZE, resolution_m=20)
    assert _iou(opacity >= 0.1, fine == cm.CLOUD) > 0.88
    assert (fine == mask).mean() > 0.97


def test_which_products_get_it(product: Path, tmp_path: Path) -> None:
    l1c = load_product(str(product))
    assert is_l1c(l1c) and has_toa_bands(l1c)
    l2a = load_product(str(make_sample_product("T32TLS", DAY, 32, tmp_path, layout="safe")))
    assert not is_l1c(l2a) and not has_toa_bands(l2a)  # no B10 (and it has SCL)
    earth_search = pystac.Item("x", None, None, DAY, {"s2:product_type": "S2MSI1C"})
    assert is_l1c(earth_search) and not has_toa_bands(earth_search)
    assert isinstance(masker_for(l1c, window_size=64, toa_resolution_m=60), ToaMasker)
    assert isinstance(masker_for(l2a, window_size=64, toa_resolution_m=60), SclMasker)
    assert isinstance(masker_for(earth_search, window_size=64, toa_resolution_m=60), NoMasker)
    l1c.assets.pop("B10")
    assert not has_toa_bands(l1c)
    assert isinstance(masker_for(l1c, window_size=64, toa_resolution_m=60), NoMasker)


def test_haze_is_the_generators_path_reflectance(product: Path) -> None:
    haze = cloudmask_toa._coarse(load_product(str(product)), SIZE, SIZE, 60).haze
    for band, path in zip(BAND_NAMES, TOA_PATH, strict=True):
        assert haze[band] == pytest.approx(path, abs=0.008), band
    assert haze["B02"] > haze["B03"] > haze["B04"] > haze["B08"] > haze["B11"]  # scattering


def test_scattering_model() -> None:
    rayleigh = scattering_haze(0.04, 0.04 * (0.665 / 0.49) ** -4)
    assert rayleigh["B08"] == pytest.approx(0.04 * (0.842 / 0.49) ** -4)
    assert rayleigh["B02"] == pytest.approx(0.04)
    # A red hazier than blue (n < 0.5) is held at the hazy end of the model; no blue, no haze.
    assert scattering_haze(0.02, 0.03)["B04"] == pytest.approx(0.02 * (0.665 / 0.49) ** -0.5)
    assert set(scattering_haze(0.0, 0.01).values()) == {0.0}


def test_haze_removal_gives_the_land_cover_of_l2a(product: Path, tmp_path: Path) -> None:
    with rasterio.open(truth_folder(product) / "truth_landcover.tif") as src:
        landcover_truth = src.read(1)
    with rasterio.open(truth_folder(product) / "truth_cloudmask.tif") as src:
        clear = src.read(1) == cm.CLEAR
    agreement = {}
    for removal in (True, False):
        home = tmp_path / f"home-{removal}"
        prepared = prepare_product(
            str(product), ingest=IngestSettings(_env_file=None, home=home,
                                                l1c_haze_removal=removal),
            inference=InferenceSettings(_env_file=None, model_repository=built(home / "m")))
        with rasterio.open(prepared.item["assets"]["landcover"]["href"]) as src:
            landcover = src.read(1)
        seen = clear & (landcover > 0)
        agreement[removal] = (landcover[seen] == landcover_truth[seen]).mean()
        lineage = prepared.item["properties"]["processing:lineage"]
        assert ("haze removed by dark-object subtraction" in lineage) == removal
    assert agreement[True] > 0.995  # the model reads (about) surface reflectance
    assert agreement[False] < 0.95  # top of atmosphere: coniferous forest taken for pasture


def test_the_pipeline_masks_l1c_products(product: Path, mask: np.ndarray, truth: np.ndarray,
                                         tmp_path: Path, pgstac_dsn: str) -> None:
    home = tmp_path / "home"
    process_product(str(product), ingest=IngestSettings(_env_file=None, home=home),
                    inference=InferenceSettings(_env_file=None, model_repository=built(home / "m")),
                    dsn=pgstac_dsn)
    with pgstac_session(pgstac_dsn) as db:
        [item] = [row[0] for row in db.query("SELECT content_hydrate(items) FROM items")]
    assert "cloudmask" in item["assets"]
    with rasterio.open(item["assets"]["cloudmask"]["href"]) as src:
        published = src.read(1)
    with rasterio.open(item["assets"]["landcover"]["href"]) as src:
        landcover = src.read(1)
    np.testing.assert_array_equal(published, mask)  # every pixel of this crop is valid
    hidden = np.isin(published, (cm.CLOUD, cm.SHADOW))
    assert (landcover[hidden] == 0).all()  # unknown under clouds and shadows
    assert (landcover[~hidden] > 0).all()
    obscured = np.isin(truth, cm.OBSCURED).mean() * 100
    assert item["properties"]["eo:cloud_cover"] == pytest.approx(obscured, abs=5)
    assert item["properties"]["eo:cloud_cover"] == pytest.approx(100 * hidden.mean(), abs=1e-3)
    assert ("; clouds from s2cloudless 1.7.3 (pixel_s2_cloud_detector_lightGBM_v0.1.txt) at 60 m "
            "with an NDSI snow test and shadows cast from the sun; haze removed by dark-object "
            "subtraction") in item["properties"]["processing:lineage"]
    assert {"s2cloudless", "lightgbm"} <= set(item["properties"]["processing:software"])


def test_generated_l1c_bands_look_like_l1c(product: Path) -> None:
    scene = generate_scene("T32TLS", DAY, SIZE, seed=SEED, cloud_cover=25)
    files = {p.stem.rsplit("_", 1)[-1]: p for p in product.glob("GRANULE/*/IMG_DATA/*.jp2")}
    assert set(files) == {"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09",
                          "B10", "B11", "B12"}
    for band, resolution in (("B01", 60), ("B05", 20), ("B09", 60), ("B10", 60)):
        with rasterio.open(files[band]) as src:
            assert src.res == (resolution, resolution) and src.width == -(-SIZE * 10 // resolution)
            np.testing.assert_array_equal(src.read(1), scene.dn(band, toa=True))
    cirrus = scene.reflectance("B10", toa=True)
    alpha60 = cloudmask_toa_alpha(scene)
    # The cirrus band sees only clouds: the surface is hidden under water vapour.
    assert np.median(cirrus[alpha60 == 0]) < 0.005 < 0.05 < np.median(cirrus[alpha60 > 0.9])
    with pytest.raises(ValueError, match="B10 is drawn only at the top of the atmosphere"):
        scene.reflectance("B10")


def cloudmask_toa_alpha(scene) -> np.ndarray:  # noqa: ANN001 - the scene's 60 m cloud opacity
    alpha = scene.clouds.alpha20
    n = -(-alpha.shape[0] // 3)
    padded = np.pad(alpha, ((0, 3 * n - alpha.shape[0]), (0, 3 * n - alpha.shape[1])), "edge")
    return padded.reshape(n, 3, n, 3).mean(axis=(1, 3))


@pytest.mark.parametrize(("factor", "least_agreement", "least_iou"), [(1, 0.995, 0.99),
                                                                       (6, 0.94, 0.88)])
def test_real_l1c_pixels_agree_with_s2cloudless(factor: int, least_agreement: float,
                                                least_iou: float) -> None:
    """s2cloudless's own real L1C test scene (made by `make install`): our mask, worked out at
    1 and 6 pixels per working pixel, against s2cloudless's reference mask of every pixel."""
    if not REAL_SCENE.exists():
        pytest.fail(f"{REAL_SCENE} is missing: run `make install` (s2cloudless test data)")
    with np.load(REAL_SCENE) as data:
        image, reference = data["s2_im"][0], data["cl_mask"][0].astype(bool)
    height, width = reference.shape
    toa = np.moveaxis(image[..., [s2cloudless.L1C_ORDER.index(b) for b in cloudmask_toa.BANDS]],
                      -1, 0)
    rows, cols = -(-height // factor), -(-width // factor)
    padded = np.pad(toa, ((0, 0), (0, rows * factor - height), (0, cols * factor - width)),
                    mode="edge")
    coarse_toa = padded.reshape(len(toa), rows, factor, cols, factor).mean(axis=(2, 4),
                                                                           dtype=np.float32)
    coarse = cloudmask_toa.coarse_from_arrays(coarse_toa, np.ones((rows, cols), bool), factor)
    mask = cloudmask_toa.fine_mask(coarse, None, factor * 10, height, width)
    found = mask == cm.CLOUD
    assert (found == reference).mean() > least_agreement
    assert _iou(found, reference) > least_iou
    assert ((mask == cm.SNOW) & reference).mean() < 0.002  # the snow test spares real clouds
    haze = coarse.haze  # real top-of-atmosphere haze: strongest in the blue
    assert 0.05 < haze["B02"] < 0.12 and haze["B02"] > haze["B03"] > haze["B04"] > haze["B08"] > 0
