"""Generated Sentinel-2 L2A sample products: files, COGs, STAC item, and pixels true to the truth.

The spectral rules below are those of the project's spectral reference model (an ONNX graph):
generated products must let a correct model recover the truth on clear pixels.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine
from rio_cogeo.cogeo import cog_validate
from shapely.geometry import shape

from catalog_schemas import clc
from samples import (
    BANDS,
    MAX_SIZE,
    PIXEL_NOISE,
    REGION_BAND_JITTER,
    REGION_BRIGHTNESS,
    SIGNATURES,
    TRUTH_FILE,
    Scl,
    generate_scene,
    make_sample_product,
    reflectance_from_dn,
)
from samples.s2grid import UnknownTileError, tile_grid

TILE = "T31TCJ"
DATE = dt.date(2024, 7, 1)
SIZE = 512
PRODUCT_ID = "S2A_31TCJ_20240701_0_L2A"
ASSET_FILES = {
    "blue": "B02.tif", "green": "B03.tif", "red": "B04.tif", "rededge1": "B05.tif",
    "rededge2": "B06.tif", "rededge3": "B07.tif", "nir": "B08.tif",
    "swir16": "B11.tif", "swir22": "B12.tif", "scl": "SCL.tif", "truth": TRUTH_FILE,
    "truth_cloudmask": "truth_cloudmask.tif",
}
RESOLUTION = {"B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20, "B08": 10,
              "B11": 20, "B12": 20, "SCL": 20,
              "truth_landcover": 10, "truth_cloudmask": 10}
CLEAR_SCL = (Scl.VEGETATION, Scl.NOT_VEGETATED, Scl.WATER, Scl.SNOW)
WATER, BROADLEAF = clc.grid_code_of(512), clc.grid_code_of(311)


def classify(b02: np.ndarray, b03: np.ndarray, b04: np.ndarray, b08: np.ndarray) -> np.ndarray:
    """The reference model's rules, as CLC codes."""
    bright = (b02 + b03 + b04) / 3
    ndwi = (b03 - b08) / (b03 + b08)
    ndvi = (b08 - b04) / (b08 + b04)
    forest = np.where(b08 < 0.32, 312, 311)
    vegetation = np.select([ndvi < 0.25, ndvi < 0.55, ndvi < 0.8], [112, 211, 231], forest)
    return np.select([bright > 0.4, ndwi > 0.1], [335, 512], vegetation)


def read(path: Path) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as src:
        return src.read(1), dict(src.profile, crs=src.crs, colormap=_colormap(src))


def _colormap(src: rasterio.DatasetReader) -> dict | None:
    try:
        return src.colormap(1)
    except ValueError:
        return None


def uniform_box_exists(mask: np.ndarray, side: int) -> bool:
    """Whether some ``side`` x ``side`` square is all True (summed-area table)."""
    table = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = table[side:, side:] - table[:-side, side:] - table[side:, :-side] + table[:-side, :-side]
    return bool((sums == side * side).any())


@pytest.fixture(scope="module")
def item_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    return make_sample_product(TILE, DATE, SIZE, out, cloud_cover=20.0)


@pytest.fixture(scope="module")
def item(item_path: Path) -> pystac.Item:
    return pystac.Item.from_file(str(item_path))


@pytest.fixture(scope="module")
def rasters(item_path: Path) -> dict[str, np.ndarray]:
    folder = item_path.parent
    return {p.stem: read(p)[0] for p in folder.glob("*.tif")}


@pytest.fixture(scope="module")
def reflectance(rasters: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {b.name: reflectance_from_dn(rasters[b.name]) for b in BANDS}


@pytest.fixture(scope="module")
def clear(rasters: dict[str, np.ndarray]) -> np.ndarray:
    """Clear 10 m pixels: their 20 m SCL pixel is land, water or snow."""
    scl = np.isin(rasters["SCL"], CLEAR_SCL)
    return np.repeat(np.repeat(scl, 2, axis=0), 2, axis=1)[:SIZE, :SIZE]


# ------------------------------------------------------------------------------------ files


def test_product_folder_holds_every_file(item_path: Path) -> None:
    assert item_path.name == f"{PRODUCT_ID}.json"
    assert item_path.parent.name == PRODUCT_ID
    assert {p.name for p in item_path.parent.iterdir()} == {
        *ASSET_FILES.values(), item_path.name}


@pytest.mark.parametrize("file_name", sorted(ASSET_FILES.values()))
def test_every_raster_is_a_valid_cog(item_path: Path, file_name: str) -> None:
    valid, errors, _warnings = cog_validate(str(item_path.parent / file_name), quiet=True)
    assert valid, errors


@pytest.mark.parametrize("file_name", sorted(ASSET_FILES.values()))
def test_rasters_sit_on_the_tile_grid(item_path: Path, file_name: str) -> None:
    data, profile = read(item_path.parent / file_name)
    resolution = RESOLUTION[Path(file_name).stem]
    assert profile["crs"].to_epsg() == 32631
    assert profile["transform"] == Affine(resolution, 0, 300000, 0, -resolution, 4900020)
    assert data.shape == (SIZE * 10 // resolution,) * 2
    assert profile["nodata"] == 0


def test_band_encoding_is_baseline_05_10(rasters: dict[str, np.ndarray]) -> None:
    for band in BANDS:
        dn = rasters[band.name]
        assert dn.dtype == np.uint16
        assert dn.min() >= 1000  # reflectance >= 0 plus the offset of 1000; 0 stays nodata
    assert rasters["SCL"].dtype == np.uint8
    assert set(np.unique(rasters["SCL"])) <= {int(v) for v in Scl} - {0}


def test_truth_is_a_categorical_clc_raster(item_path: Path) -> None:
    truth, profile = read(item_path.parent / TRUTH_FILE)
    assert truth.dtype == np.uint8 and profile["nodata"] == 0
    assert profile["colormap"][WATER][:3] == clc.by_clc_code(512).rgb
    assert truth.min() >= 1 and truth.max() <= 44


# ------------------------------------------------------------------------------------ STAC item


def test_item_identity_and_properties(item: pystac.Item) -> None:
    p = item.properties
    assert item.id == PRODUCT_ID
    assert p["platform"] == "sentinel-2a" and p["constellation"] == "sentinel-2"
    assert p["instruments"] == ["msi"]
    assert p["proj:code"] == "EPSG:32631"
    assert (p["mgrs:utm_zone"], p["mgrs:latitude_band"], p["mgrs:grid_square"]) == (31, "T", "CJ")
    assert p["grid:code"] == "MGRS-31TCJ"
    assert p["s2:processing_baseline"] == "05.10" and p["s2:product_type"] == "S2MSI2A"
    assert p["earthsignature:generated"] is True
    assert "earthsignature" in p["processing:software"]
    assert item.datetime is not None and item.datetime.date() == DATE
    assert dt.time(10, 50) < item.datetime.time() < dt.time(11, 0)  # 10:56 UTC-ish over 31TCJ


def test_item_declares_its_extensions(item: pystac.Item) -> None:
    declared = " ".join(item.stac_extensions)
    for name in ("eo", "projection", "raster", "mgrs", "grid", "classification", "processing",
                 "sentinel-2"):
        assert f"stac-extensions.github.io/{name}/" in declared


def test_item_is_well_formed_stac_1_1(item_path: Path, item: pystac.Item) -> None:
    # pystac's item.validate() needs the jsonschema package and fetches the extension schemas
    # over the network; neither is available here, so check the core structure directly.
    document = json.loads(item_path.read_text())
    assert document["stac_version"] == "1.1.0" and document["type"] == "Feature"
    assert {"id", "geometry", "bbox", "properties", "links", "assets"} <= set(document)
    assert document["properties"]["datetime"].endswith("Z")
    assert pystac.Item.from_dict(document).to_dict(include_self_link=False) == document
    assert item.to_dict(include_self_link=False, transform_hrefs=False)["assets"] == \
        document["assets"]


def test_footprint_is_the_crop_inside_the_tile(item: pystac.Item) -> None:
    grid = tile_grid(TILE)
    footprint = shape(item.geometry)
    assert footprint.geom_type == "Polygon" and footprint.is_valid
    assert len(footprint.exterior.coords) > 5  # densified
    assert item.bbox == pytest.approx(list(footprint.bounds))
    assert grid.window_footprint(grid.size_m).buffer(1e-5).contains(footprint)
    # The crop starts 20 m north of the overlap-free square: nearly all of it lies inside.
    assert footprint.intersection(grid.footprint).area > 0.99 * footprint.area
    expected = grid.window_footprint(SIZE * 10)
    assert footprint.symmetric_difference(expected).area < 1e-6 * expected.area


def test_band_assets_are_keyed_like_earth_search(item: pystac.Item, item_path: Path) -> None:
    assert set(item.assets) == set(ASSET_FILES)
    for key, file_name in ASSET_FILES.items():
        asset = item.assets[key]
        assert asset.href == f"./{file_name}"
        assert Path(asset.get_absolute_href()) == item_path.parent / file_name
        assert asset.media_type == pystac.MediaType.COG
        _data, profile = read(item_path.parent / file_name)
        assert asset.extra_fields["proj:shape"] == [profile["height"], profile["width"]]
        assert asset.extra_fields["proj:transform"] == list(profile["transform"])[:6]
        assert asset.extra_fields["gsd"] == profile["transform"].a
    for band in BANDS:
        asset = item.assets[band.asset]
        assert asset.roles == ["data"]
        assert [b["name"] for b in asset.extra_fields["eo:bands"]] == [band.name]
        (raster,) = asset.extra_fields["raster:bands"]
        assert raster["scale"] == 0.0001 and raster["offset"] == -0.1
        assert raster["nodata"] == 0 and raster["data_type"] == "uint16"
    assert item.assets["scl"].roles == ["data"]


def test_truth_asset_is_generated_metadata(item: pystac.Item) -> None:
    truth = item.assets["truth"]
    assert truth.roles == ["metadata"]
    assert "generated" in (truth.title or "").lower()
    values = {c["value"] for c in truth.extra_fields["classification:classes"]}
    assert values == set(range(1, 45))


def test_cloud_cover_is_the_share_drawn(item: pystac.Item, rasters: dict[str, np.ndarray]) -> None:
    cloudy = np.isin(rasters["SCL"], (8, 9, 10)).mean() * 100
    assert item.properties["eo:cloud_cover"] == pytest.approx(cloudy, abs=1e-3)
    assert 15 < item.properties["eo:cloud_cover"] < 25  # 20 % asked
    shares = [v for k, v in item.properties.items() if k.endswith("_percentage")]
    assert sum(shares) == pytest.approx(100)


# ------------------------------------------------------------------------------------ pixels


def test_truth_holds_large_water_and_broadleaf_regions(rasters: dict[str, np.ndarray]) -> None:
    truth = rasters["truth_landcover"]
    assert {WATER, BROADLEAF} <= set(np.unique(truth))
    # Each keeps a disk 152 px across, hence a 101 px square of interior pixels.
    assert uniform_box_exists(truth == WATER, 101)
    assert uniform_box_exists(truth == BROADLEAF, 101)


def test_clear_water_pixel_has_water_ndwi(item: pystac.Item, rasters: dict[str, np.ndarray],
                                          clear: np.ndarray) -> None:
    raster = item.assets["green"].extra_fields["raster:bands"][0]
    rows, cols = np.nonzero((rasters["truth_landcover"] == WATER) & clear)
    row, col = rows[len(rows) // 2], cols[len(cols) // 2]
    green, nir = (float(rasters[b][row, col]) * raster["scale"] + raster["offset"]
                  for b in ("B03", "B08"))
    assert (green - nir) / (green + nir) > 0.1


def test_spectral_rules_recover_the_truth_on_clear_pixels(
    rasters: dict[str, np.ndarray], reflectance: dict[str, np.ndarray], clear: np.ndarray
) -> None:
    predicted = classify(*(reflectance[b] for b in ("B02", "B03", "B04", "B08")))
    codes = np.array([0] + [c.clc_code for c in clc.clc_classes()])
    truth = codes[rasters["truth_landcover"]]
    assert clear.mean() > 0.5
    assert (predicted == truth)[clear].mean() >= 0.95


def test_signatures_stay_clear_of_the_model_thresholds() -> None:
    """At the extremes of the parcel variation and 4-sigma pixel noise, every class's
    signature still falls in its own class."""
    low = (1 - REGION_BAND_JITTER) * (1 - 4 * PIXEL_NOISE)
    high = (1 + REGION_BAND_JITTER) * (1 + 4 * PIXEL_NOISE)
    for code, signature in SIGNATURES.items():
        for brightness in (1 - REGION_BRIGHTNESS, 1 + REGION_BRIGHTNESS):
            for factors in itertools.product((low, high), repeat=4):
                bands = np.array(signature[:4]) * brightness * np.array(factors)
                assert classify(*bands) == code, (code, brightness, factors)


def test_scl_agrees_with_the_truth_on_clear_pixels(rasters: dict[str, np.ndarray]) -> None:
    scl = rasters["SCL"]
    truth = rasters["truth_landcover"][::2, ::2]  # labels are pure on the 20 m grid
    expected = {512: Scl.WATER, 311: Scl.VEGETATION, 312: Scl.VEGETATION, 231: Scl.VEGETATION,
                211: Scl.NOT_VEGETATED, 112: Scl.NOT_VEGETATED, 335: Scl.SNOW}
    clear = np.isin(scl, CLEAR_SCL)
    for code, value in expected.items():
        assert (scl[clear & (truth == clc.grid_code_of(code))] == value).all()


def test_clouds_are_bright_and_shadows_dark(rasters: dict[str, np.ndarray],
                                            reflectance: dict[str, np.ndarray]) -> None:
    scl = np.repeat(np.repeat(rasters["SCL"], 2, axis=0), 2, axis=1)[:SIZE, :SIZE]
    blue = reflectance["B02"]
    assert np.median(blue[scl == Scl.CLOUD_HIGH_PROBABILITY]) > 0.4
    assert (rasters["SCL"] == Scl.CLOUD_SHADOWS).any()
    # The truth stays the land cover under clouds: no nodata anywhere.
    assert (rasters["truth_landcover"] > 0).all()


def test_cloud_free_scene_has_no_cloud_classes() -> None:
    scene = generate_scene(TILE, DATE, 256, cloud_cover=0.0)
    assert not np.isin(scene.scl(), (3, 8, 9, 10)).any()


# ------------------------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_pixels(tmp_path: Path) -> None:
    def red(folder: str, seed: int) -> np.ndarray:
        path = make_sample_product(TILE, DATE, 256, tmp_path / folder, seed=seed, cloud_cover=10)
        return read(path.parent / "B04.tif")[0]

    first, again, other = red("a", 7), red("b", 7), red("c", 8)
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


def test_default_seed_depends_on_tile_and_date_only() -> None:
    assert generate_scene(TILE, DATE, 128).seed == generate_scene("31tcj", DATE, 128).seed
    assert generate_scene(TILE, DATE, 128).seed != generate_scene(TILE, DATE.replace(day=2),
                                                                  128).seed


def test_clouds_do_not_change_the_land_cover_or_noise_streams() -> None:
    clear_scene = generate_scene(TILE, DATE, 256, seed=3)
    cloudy_scene = generate_scene(TILE, DATE, 256, seed=3, cloud_cover=50)
    assert (clear_scene.truth() == cloudy_scene.truth()).all()
    assert clear_scene.product_id == cloudy_scene.product_id


def test_odd_size_covers_every_pixel_at_20_m() -> None:
    scene = generate_scene(TILE, DATE, 101, seed=1)
    assert scene.truth().shape == (101, 101)
    assert scene.dn("B04").shape == (101, 101) and scene.dn("B11").shape == (51, 51)
    assert scene.scl().shape == (51, 51)


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("size", [0, -1, MAX_SIZE + 1, 20000])
def test_size_out_of_range_is_refused_by_value(size: int, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"size {size} "):
        make_sample_product(TILE, DATE, size, tmp_path)
    assert not any(tmp_path.iterdir())


def test_size_must_be_whole_pixels(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="512.0"):
        make_sample_product(TILE, DATE, 512.0, tmp_path)  # type: ignore[arg-type]


@pytest.mark.parametrize("cloud_cover", [-1.0, 100.5])
def test_cloud_cover_out_of_range_is_refused(cloud_cover: float, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=str(cloud_cover)):
        make_sample_product(TILE, DATE, 64, tmp_path, cloud_cover=cloud_cover)


def test_unknown_tile_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(UnknownTileError, match="31TCA"):
        make_sample_product("T31TCA", DATE, 64, tmp_path)


def test_date_before_sentinel_2_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2014-01-01"):
        make_sample_product(TILE, dt.date(2014, 1, 1), 64, tmp_path)
