"""One product through the pipeline in process: every asset against the generator's truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pystac
import pytest
import rasterio
from pystac.extensions.classification import ClassificationExtension
from pystac.extensions.eo import EOExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterExtension
from rasterio.enums import Resampling
from rio_cogeo.cogeo import cog_validate
from shapely.geometry import shape

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from catalog_schemas.validation import validate_item
from inference.settings import InferenceSettings
from ingest import pipeline
from ingest.catalog import publisher
from ingest.catalog.pgstac_db import pgstac_session
from ingest.clouds.cloudmask import cloudmask_from_scl
from ingest.errors import InvalidProductError, TransientError
from ingest.outputs.staging import multihash_sha256
from ingest.pipeline import prepare_product, process_product, register_prepared
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built

ASSETS = {"landcover", "confidence", "cloudmask", "polygons", "thumbnail"}


@dataclass
class Published:
    product: Path
    item: dict
    settings: IngestSettings

    def asset_path(self, key: str) -> Path:
        return Path(self.item["assets"][key]["href"])

    def read(self, key: str) -> np.ndarray:
        with rasterio.open(self.asset_path(key)) as src:
            return src.read(1)


def _items(dsn: str) -> list[dict]:
    with pgstac_session(dsn) as db:
        return [row[0] for row in db.query(
            "SELECT content_hydrate(items) FROM items ORDER BY id")]


def _settings(home: Path) -> tuple[IngestSettings, InferenceSettings]:
    return (IngestSettings(_env_file=None, home=home),
            InferenceSettings(_env_file=None, model_repository=built(home / "models")))


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_product("T31TCJ", date(2024, 7, 1), 768,
                               tmp_path_factory.mktemp("samples"), seed=7, cloud_cover=15)


@pytest.fixture(scope="module")
def published(product: Path, tmp_path_factory: pytest.TempPathFactory,
              module_pgstac_dsn: str) -> Published:
    ingest, inference = _settings(tmp_path_factory.mktemp("home"))
    process_product(str(product), ingest=ingest, inference=inference, dsn=module_pgstac_dsn)
    [item] = _items(module_pgstac_dsn)
    return Published(product, item, ingest)


@pytest.fixture(scope="module")
def truth(product: Path) -> np.ndarray:
    with rasterio.open(product.parent / "truth_landcover.tif") as src:
        return src.read(1)


@pytest.fixture(scope="module")
def expected_cloudmask(product: Path, truth: np.ndarray) -> np.ndarray:
    with rasterio.open(product.parent / "SCL.tif") as src:
        scl = src.read(1, out_shape=truth.shape, resampling=Resampling.nearest)
    return cloudmask_from_scl(scl)


def test_item_has_every_asset_valid_and_checksummed(published: Published) -> None:
    assert set(published.item["assets"]) == ASSETS
    for key in ("landcover", "confidence", "cloudmask"):
        assert cog_validate(str(published.asset_path(key)), quiet=True)[0], key
    for key, asset in published.item["assets"].items():
        path = published.asset_path(key)
        assert asset["file:size"] == path.stat().st_size
        assert asset["file:checksum"] == multihash_sha256(path)


def test_landcover_equals_truth_on_clear_pixels(published: Published, truth: np.ndarray,
                                                expected_cloudmask: np.ndarray) -> None:
    landcover = published.read("landcover")
    hidden = np.isin(expected_cloudmask, cm.OBSCURED) | (expected_cloudmask == cm.NODATA)
    assert hidden.any() and (~hidden).any()  # the scene has clouds and clear sky
    np.testing.assert_array_equal(landcover[~hidden], truth[~hidden])
    assert (landcover[hidden] == 0).all()  # unknown under clouds: nodata, not "snow"
    with rasterio.open(published.asset_path("landcover")) as src:
        assert src.colormap(1)[clc.grid_code_of(311)][:3] == clc.by_clc_code(311).rgb
        overview = src.read(1, out_shape=(96, 96), resampling=Resampling.nearest)
    assert set(np.unique(overview)) <= set(np.unique(landcover))  # MODE never invents


def test_cloudmask_and_confidence(published: Published, expected_cloudmask: np.ndarray) -> None:
    np.testing.assert_array_equal(published.read("cloudmask"), expected_cloudmask)
    landcover, confidence = published.read("landcover"), published.read("confidence")
    assert (confidence[landcover == 0] == 255).all()
    assert confidence[landcover > 0].max() <= 100
    assert np.median(confidence[landcover > 0]) > 80  # signatures far from every threshold


def test_statistics_match_the_truth(published: Published, truth: np.ndarray,
                                    expected_cloudmask: np.ndarray) -> None:
    props = published.item["properties"]
    valid = np.isin(expected_cloudmask, (cm.CLEAR, cm.SNOW))
    codes, counts = np.unique(truth[valid], return_counts=True)
    expected = {clc.by_grid_code(g).clc_code: n / valid.sum()
                for g, n in zip(codes, counts, strict=True)}
    assert props["clc:classes"] == [str(c) for c in sorted(expected)]
    for code, fraction in expected.items():
        assert props[f"clc:fraction_{code}"] == pytest.approx(fraction, abs=1e-6)
    assert sum(v for k, v in props.items() if k.startswith("clc:fraction_")) == pytest.approx(
        1, abs=1e-5)  # each fraction is rounded to 6 decimals
    hidden = np.isin(expected_cloudmask, cm.OBSCURED).sum()
    assert props["eo:cloud_cover"] == pytest.approx(
        100 * hidden / (expected_cloudmask > 0).sum(), abs=1e-3)
    assert props["clc:valid_fraction"] == pytest.approx(valid.sum() / truth.size, abs=1e-6)


def test_polygons_cover_the_landcover(published: Published) -> None:
    frame = gpd.read_parquet(published.asset_path("polygons"))
    landcover = published.read("landcover")
    assert set(frame.columns) == {"clc_code", "grid_code", "name", "area_m2", "geometry"}
    assert frame.crs.to_epsg() == 32631
    assert set(frame.clc_code) <= {clc.by_grid_code(g).clc_code for g in np.unique(landcover)
                                   if g}
    assert frame.area_m2.sum() == pytest.approx((landcover > 0).sum() * 100.0, rel=0.02)
    forest = frame[frame.clc_code == 311]
    assert (forest.name == "Broad-leaved forest").all()


def test_thumbnail_is_a_paletted_png(published: Published) -> None:
    data = published.asset_path("thumbnail").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert not published.asset_path("thumbnail").with_suffix(".png.aux.xml").exists()


def test_item_validates_and_round_trips(published: Published, product: Path) -> None:
    # The API adds the collection link when it serves the item (the e2e test validates that
    # served item); the stored one is complete otherwise.
    collection_link = {"rel": "collection", "href": "https://api.example/collections/landcover",
                       "type": "application/json"}
    validate_item({**published.item, "links": [*published.item["links"], collection_link]})
    item = pystac.Item.from_dict(published.item)
    assert item.to_dict() == published.item
    proj = ProjectionExtension.ext(item)
    assert proj.code == "EPSG:32631" and proj.shape == [768, 768]
    landcover = item.assets["landcover"]
    assert RasterExtension.ext(landcover).bands[0].nodata == 0
    classes = ClassificationExtension.ext(landcover).classes
    # Only what clc-spectral:1 can write (its MLM's reachable_classes), in grid-code order.
    assert [c.name for c in classes] == ["clc-112", "clc-211", "clc-231", "clc-311", "clc-312",
                                         "clc-335", "clc-512"]
    assert classes[-1].value == 41 and classes[-1].color_hint == "80F2E6"
    assert FileExtension.ext(landcover).checksum.startswith("1220")
    props = item.properties
    assert props["processing:lineage"] == (
        f"Segmented from Sentinel-2 product {product.parent.name} with clc-spectral:1; "
        "clouds from the product's scene classification (SCL)")
    assert props["earthsig:model"] == "clc-spectral:1"
    # The model is described by its MLM document (linked), not by MLM fields on its output.
    assert not any(k.startswith("mlm:") for k in props)
    assert set(props["processing:software"]) >= {"earthsignature", "onnxruntime", "gdal"}
    assert "tritonclient" not in props["processing:software"]
    assert props["processing:level"] == "L3"
    assert EOExtension.ext(item).cloud_cover == props["eo:cloud_cover"]
    model_link = [ln for ln in item.links if ln.title == "Model clc-spectral:1"]
    assert model_link and Path(model_link[0].href).name == "mlm.json"
    assert Path(model_link[0].href).exists()
    source = pystac.Item.from_file(str(product))
    assert shape(item.geometry).equals_exact(shape(source.geometry), 1e-9)
    assert item.datetime == source.datetime
    assert {ln.rel for ln in item.links} >= {"derived_from"}


def test_reprocessing_replaces_files_and_item(product: Path, tmp_path: Path,
                                              pgstac_dsn: str) -> None:
    ingest, inference = _settings(tmp_path)
    process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    [first] = _items(pgstac_dsn)
    process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    [second] = _items(pgstac_dsn)
    assert first["id"] == second["id"]
    old, new = Path(first["assets"]["landcover"]["href"]), Path(second["assets"]["landcover"]
                                                                  ["href"])
    assert new.exists() and not old.exists()
    item_dir = ingest.assets / "landcover" / second["id"]
    assert [p.name for p in item_dir.iterdir()] == [new.parent.name]  # no orphan, no staging


def test_the_newest_run_wins_whatever_order_twins_register_in(product: Path, tmp_path: Path,
                                                               pgstac_dsn: str) -> None:
    ingest, inference = _settings(tmp_path)
    older = prepare_product(str(product), ingest=ingest, inference=inference)
    newer = prepare_product(str(product), ingest=ingest, inference=inference)
    assert newer.run > older.run
    # The newer run registers first (a slow twin, a host whose clock is behind)...
    register_prepared(newer, ingest=ingest, dsn=pgstac_dsn)
    result = register_prepared(older, ingest=ingest, dsn=pgstac_dsn)
    # ...and the older one, registering last, neither replaces it nor deletes its files.
    [item] = _items(pgstac_dsn)
    assert result.item_id == item["id"]
    assert Path(item["assets"]["landcover"]["href"]).parent.name == newer.run.rsplit("/", 1)[1]
    item_dir = ingest.assets / newer.item_path
    assert [p.name for p in item_dir.iterdir()] == [newer.run.rsplit("/", 1)[1]]
    assert Path(item["assets"]["landcover"]["href"]).exists()


def test_failed_registration_publishes_nothing(product: Path, tmp_path: Path, pgstac_dsn: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    ingest, inference = _settings(tmp_path)
    process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    [before] = _items(pgstac_dsn)

    def down(item: pystac.Item, *_: object) -> None:
        raise TransientError("pgstac unavailable (injected)")

    monkeypatch.setattr(publisher, "upsert_item", down)
    with pytest.raises(TransientError):
        process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    assert _items(pgstac_dsn) == [before]
    item_dir = ingest.assets / "landcover" / before["id"]
    assert [p.name for p in item_dir.iterdir()] == [Path(before["assets"]["landcover"]["href"])
                                                   .parent.name]
    for asset in before["assets"].values():
        assert multihash_sha256(Path(asset["href"])) == asset["file:checksum"]


def test_collection_extent_follows_the_items(published: Published, module_pgstac_dsn: str,
                                             product: Path) -> None:
    with pgstac_session(module_pgstac_dsn) as db:
        [(extent, summaries)] = list(db.query(
            "SELECT content->'extent', content->'summaries' FROM collections "
            "WHERE id = 'landcover'"))
    assert summaries["earthsig:model"] == ["clc-spectral:1"]
    assert len(summaries["classification:classes"]) == 44
    source = pystac.Item.from_file(str(product))
    np.testing.assert_allclose(extent["spatial"]["bbox"][0], source.bbox, atol=1e-6)
    start, end = extent["temporal"]["interval"][0]
    assert start.startswith("2024-07-01") and end.startswith("2024-07-01")


def test_missing_band_is_invalid_input(product: Path, tmp_path: Path, pgstac_dsn: str) -> None:
    item = pystac.Item.from_file(str(product))
    item.make_asset_hrefs_absolute()
    del item.assets["nir"]
    broken = tmp_path / "broken.json"
    item.save_object(dest_href=str(broken), include_self_link=False)
    ingest, inference = _settings(tmp_path)
    with pytest.raises(InvalidProductError, match="no asset for band B08"):
        process_product(str(broken), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    assert _items(pgstac_dsn) == []
    assert not (ingest.assets / "landcover").exists()


def test_missing_item_is_invalid_input(tmp_path: Path, pgstac_dsn: str) -> None:
    ingest, inference = _settings(tmp_path)
    with pytest.raises(InvalidProductError, match="not found"):
        process_product(str(tmp_path / "nope.json"), ingest=ingest, inference=inference,
                        dsn=pgstac_dsn)


def test_new_model_version_adds_an_item_beside_the_old(product: Path, tmp_path: Path,
                                                       pgstac_dsn: str) -> None:
    import dataclasses

    from inference.repository import ModelRepository
    from inference.spectral import build_spectral_model

    ingest, inference = _settings(tmp_path)
    process_product(str(product), "clc-spectral:1", ingest=ingest, inference=inference,
                    dsn=pgstac_dsn)
    repo = ModelRepository(inference.model_repository)
    v1 = repo.resolve("clc-spectral:1").spec
    repo.add_version(dataclasses.replace(v1, version="7"), build_spectral_model())
    process_product(str(product), "clc-spectral:7", ingest=ingest, inference=inference,
                    dsn=pgstac_dsn)
    items = _items(pgstac_dsn)
    assert [i["properties"]["earthsig:model"] for i in items] == ["clc-spectral:1",
                                                                  "clc-spectral:7"]
    for item in items:  # both served, each with its own files
        assert all(Path(a["href"]).exists() for a in item["assets"].values())


def test_software_names_the_runtime_the_settings_chose() -> None:
    triton = pipeline.software_versions(InferenceSettings(_env_file=None, backend="triton"))
    assert "tritonclient" in triton and "onnxruntime" not in triton
    embedded = pipeline.software_versions(InferenceSettings(_env_file=None),
                                          masked_from_toa=True)
    assert {"onnxruntime", "s2cloudless", "lightgbm", "gdal"} <= set(embedded)
