"""One product through the pipeline in process: class accuracy, item, COG, idempotency."""

from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate
from shapely.geometry import shape

from catalog_schemas import clc
from inference.settings import InferenceSettings
from ingest.errors import InvalidProductError
from ingest.pgstac_db import pgstac_session
from ingest.pipeline import process_product
from ingest.samples import make_sample_product
from ingest.settings import IngestSettings

TRUTH = "truth_landcover.tif"


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_product("T31TCJ", date(2024, 7, 1), 768,
                               tmp_path_factory.mktemp("samples"), seed=7)


@pytest.fixture
def settings(tmp_path: Path) -> tuple[IngestSettings, InferenceSettings]:
    return (IngestSettings(_env_file=None, home=tmp_path),
            InferenceSettings(_env_file=None, model_repository=tmp_path / "models"))


def _items(dsn: str) -> list[dict]:
    with pgstac_session(dsn) as db:
        return [row[0] for row in db.query(
            "SELECT content_hydrate(items) FROM items ORDER BY id")]


def test_product_is_classified_and_registered(product: Path, settings, pgstac_dsn: str) -> None:
    ingest, inference = settings
    result = process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    assert result.item_id == f"{product.parent.name}_clc-spectral_v1"
    assert set(result.timings_s) == {"read+infer", "write-cog", "register"}

    cog = ingest.assets / "landcover" / result.item_id / "landcover.tif"
    assert cog_validate(str(cog), quiet=True)[0]
    with rasterio.open(cog) as out, rasterio.open(product.parent / TRUTH) as truth:
        predicted, expected = out.read(1), truth.read(1)
        assert out.transform == truth.transform and out.crs == truth.crs
        assert out.colormap(1)[clc.grid_code_of(512)][:3] == (128, 242, 230)
    agreement = (predicted == expected)[expected > 0].mean()
    assert agreement > 0.95, f"only {agreement:.1%} of pixels match the ground truth"

    [item] = _items(pgstac_dsn)
    source = product.read_text()
    assert item["id"] == result.item_id and item["collection"] == "landcover"
    assert product.parent.name in source
    assert item["assets"]["landcover"]["href"] == str(cog)
    assert item["properties"]["proj:code"] == "EPSG:32631"
    assert item["properties"]["earthsig:model"] == "clc-spectral:1"


def test_second_run_upserts_one_item(product: Path, settings, pgstac_dsn: str) -> None:
    ingest, inference = settings
    first = process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    second = process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    assert first.item_id == second.item_id
    assert [i["id"] for i in _items(pgstac_dsn)] == [first.item_id]
    folder = ingest.assets / "landcover"
    assert [p.name for p in folder.iterdir()] == [first.item_id]  # no staging leftovers


def test_footprint_and_time_come_from_the_product(product: Path, settings,
                                                   pgstac_dsn: str) -> None:
    import pystac

    ingest, inference = settings
    process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    [item] = _items(pgstac_dsn)
    source = pystac.Item.from_file(str(product))
    assert shape(item["geometry"]).equals_exact(shape(source.geometry), 1e-9)
    assert item["properties"]["datetime"].startswith(source.datetime.strftime("%Y-%m-%dT%H:%M"))


def test_missing_band_is_invalid_input(product: Path, settings, tmp_path: Path,
                                       pgstac_dsn: str) -> None:
    import pystac

    item = pystac.Item.from_file(str(product))
    item.make_asset_hrefs_absolute()
    del item.assets["nir"]
    broken = tmp_path / "broken.json"
    item.save_object(dest_href=str(broken), include_self_link=False)
    ingest, inference = settings
    with pytest.raises(InvalidProductError, match="no asset for band B08"):
        process_product(str(broken), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    assert _items(pgstac_dsn) == []
    assert not (ingest.assets / "landcover").exists()


def test_missing_item_is_invalid_input(settings, pgstac_dsn: str, tmp_path: Path) -> None:
    ingest, inference = settings
    with pytest.raises(InvalidProductError, match="not found"):
        process_product(str(tmp_path / "nope.json"), ingest=ingest, inference=inference,
                        dsn=pgstac_dsn)


def test_reflectance_scaling_is_applied(product: Path) -> None:
    from rasterio.windows import Window

    from ingest.product import ProductReader, load_item

    with ProductReader(load_item(str(product)), ["B02", "B03", "B04", "B08"]) as reader:
        refl, valid = reader.read(Window(0, 0, 64, 64))
    assert valid.all()
    assert 0.0 <= float(np.median(refl)) < 0.6  # reflectance, not digital numbers


def test_collection_extent_follows_the_items(product: Path, settings, pgstac_dsn: str) -> None:
    import pystac

    ingest, inference = settings
    process_product(str(product), ingest=ingest, inference=inference, dsn=pgstac_dsn)
    with pgstac_session(pgstac_dsn) as db:
        [extent] = [row[0] for row in db.query(
            "SELECT content->'extent' FROM collections WHERE id = 'landcover'")]
    source = pystac.Item.from_file(str(product))
    np.testing.assert_allclose(extent["spatial"]["bbox"][0], source.bbox, atol=1e-6)
    start, end = extent["temporal"]["interval"][0]
    assert start.startswith("2024-07-01") and end.startswith("2024-07-01")
