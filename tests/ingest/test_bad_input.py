"""Bad products through the whole pipeline: an error naming the product and the problem, and
nothing registered or published (issue 3, item 7; issue 11, item 2) - or, where the product
is odd but legitimate, a correct item.

The readers' own tests check the messages of ``open_product``/``load_product``; here each bad
product goes through ``process_product`` against a real pgstac. What is refused and why, and
what is published instead: docs/reliability.md, "Bad inputs".
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.windows import Window

from catalog_schemas.validation import validate_item
from inference.settings import InferenceSettings
from ingest.catalog.pgstac_db import pgstac_session
from ingest.errors import InvalidProductError
from ingest.pipeline import process_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built

DAY, SIZE = date(2024, 7, 1), 128


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bad")
    return {
        "cog": make_sample_product("T31TCJ", DAY, SIZE, out / "cog", seed=3),
        "safe": make_sample_product("T31TCJ", DAY, SIZE, out / "safe", seed=3, layout="safe"),
        "zip": make_sample_product("T31TCJ", DAY, SIZE, out / "zip", seed=3, layout="safe",
                                   as_zip=True),
    }


def _cog_copy(samples: dict[str, Path], tmp_path: Path) -> Path:
    item = samples["cog"]
    return Path(shutil.copytree(item.parent, tmp_path / item.parent.name)) / item.name


def _safe_copy(samples: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(samples["safe"], tmp_path / samples["safe"].name))


def _zip_copy(samples: dict[str, Path], tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(samples["zip"], tmp_path / samples["zip"].name))


COPIES = {"cog": _cog_copy, "safe": _safe_copy, "zip": _zip_copy}
COG_ID = "S2A_31TCJ_20240701_0_L2A"
BANDS = ("B02", "B03", "B04", "B08")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def _delete_cog_band(product: Path) -> str:
    (product.parent / "B08.tif").unlink()
    return r"S2A_31TCJ_20240701_0_L2A: cannot open band B08 \(\S+/B08\.tif\)"


def _truncate_cog(product: Path) -> str:
    _truncate(product.parent / "B04.tif")
    return r"S2A_31TCJ_20240701_0_L2A: band B04 .*\S+/B04\.tif"


def _delete_safe_band(product: Path) -> str:
    next(product.glob("GRANULE/*/IMG_DATA/R10m/*_B08_10m.jp2")).unlink()
    return r"S2A_MSIL2A_\S+: no asset for band B08"


def _truncate_jp2(product: Path) -> str:
    _truncate(next(product.glob("GRANULE/*/IMG_DATA/R10m/*_B04_10m.jp2")))
    return r"S2A_MSIL2A_\S+: band B04 .*_B04_10m\.jp2"


def _edit_item(product: Path, edit: Callable[[dict], None]) -> None:
    item = json.loads(product.read_text())
    edit(item)
    product.write_text(json.dumps(item))


def _relabel_crs(path: Path, crs: str) -> None:
    """The same pixels and transform, stamped with another CRS (a mislabelled file)."""
    with rasterio.open(path, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:
        ds.crs = crs


def _band_of_another_size(product: Path) -> str:
    path = product.parent / "B08.tif"
    with rasterio.open(path) as src:
        data = src.read(window=Window(0, 0, SIZE, 100))
        profile = {**src.profile, "height": 100}
    path.unlink()
    with rasterio.open(path, "w", **{k: v for k, v in profile.items()
                                     if k not in ("blockxsize", "blockysize", "tiled")}) as dst:
        dst.write(data)
    return rf"{COG_ID}: band B08 \(128x100 px\) is not on the grid of B02 \(128x128 px\)"


def _band_in_another_crs(product: Path) -> str:
    _relabel_crs(product.parent / "B08.tif", "EPSG:32632")
    return rf"{COG_ID}: band B08 .* not on the grid of B02 .*EPSG:32632 .* vs EPSG:32631"


def _files_in_another_crs(product: Path) -> str:
    for band in BANDS:
        _relabel_crs(product.parent / f"{band}.tif", "EPSG:32632")
    return rf"{COG_ID}: band B02 is in EPSG:32632 but the metadata says EPSG:32631"


def _files_outside_footprint(product: Path) -> str:
    """No CRS declared to compare with: the rasters' place betrays them."""
    _files_in_another_crs(product)

    def undeclare(item: dict) -> None:
        item["properties"].pop("proj:code", None)
        item["properties"].pop("proj:epsg", None)
        for asset in item["assets"].values():
            asset.pop("proj:code", None)
            asset.pop("proj:epsg", None)

    _edit_item(product, undeclare)
    return rf"{COG_ID}: band B02 \(EPSG:32632, .*\) lies outside the item's footprint"


def _future_date(product: Path) -> str:
    _edit_item(product, lambda i: i["properties"].update(datetime="2099-07-01T10:55:00Z"))
    return rf"{COG_ID}: acquisition time 2099-07-01T10:55:00\+00:00 is in the future"


def _before_sentinel2(product: Path) -> str:
    _edit_item(product, lambda i: i["properties"].update(datetime="1970-01-01T00:00:00Z"))
    return rf"{COG_ID}: acquisition time 1970-01-01.* is before Sentinel-2's first acquisition"


def _empty_geometry(product: Path) -> str:
    _edit_item(product, lambda i: i.update(geometry={"type": "Polygon", "coordinates": []}))
    return rf"{COG_ID}: the item has no footprint \(empty geometry\)"


def _null_geometry(product: Path) -> str:
    def drop(item: dict) -> None:
        item["geometry"] = None
        item.pop("bbox", None)

    _edit_item(product, drop)
    return rf"{COG_ID}: the item has no footprint \(empty geometry\)"


def _degenerate_geometry(product: Path) -> str:
    ring = [[0.5, 44.2], [0.5, 44.2], [0.5, 44.2], [0.5, 44.2]]
    _edit_item(product, lambda i: i.update(geometry={"type": "Polygon",
                                                     "coordinates": [ring]}))
    return rf"{COG_ID}: the item has no footprint \(empty geometry\)"


def _out_of_range_geometry(product: Path) -> str:
    ring = [[300, 44], [301, 44], [301, 45], [300, 45], [300, 44]]
    _edit_item(product, lambda i: i.update(geometry={"type": "Polygon",
                                                     "coordinates": [ring]}))
    return rf"{COG_ID}: footprint .* is outside longitude -180..180"


def _missing_granule(product: Path) -> str:
    shutil.rmtree(product / "GRANULE")
    return rf"{product.name}: no band files \(GRANULE/\*/IMG_DATA/\*.jp2\)"


def _safe_future_date(product: Path) -> str:
    mtd = product / "MTD_MSIL2A.xml"
    text = mtd.read_text()
    mtd.write_text(text.replace("PRODUCT_START_TIME>2024-07-01", "PRODUCT_START_TIME>2099-07-01"))
    return r"S2A_MSIL2A_\S+: acquisition time 2099-07-01\S+ is in the future"


def _truncated_zip(product: Path) -> str:
    _truncate(product)
    return rf"{product.name}: neither a SAFE folder nor a zip archive \(a .zip truncated"


BREAKAGES: dict[str, tuple[str, Callable[[Path], str]]] = {
    "cog-missing-band-file": ("cog", _delete_cog_band),
    "cog-truncated": ("cog", _truncate_cog),
    "cog-bands-of-different-sizes": ("cog", _band_of_another_size),
    "cog-one-band-in-another-crs": ("cog", _band_in_another_crs),
    "cog-files-in-another-crs-than-declared": ("cog", _files_in_another_crs),
    "cog-files-outside-the-footprint": ("cog", _files_outside_footprint),
    "cog-date-in-the-future": ("cog", _future_date),
    "cog-date-before-sentinel-2": ("cog", _before_sentinel2),
    "cog-empty-geometry": ("cog", _empty_geometry),
    "cog-null-geometry": ("cog", _null_geometry),
    "cog-degenerate-geometry": ("cog", _degenerate_geometry),
    "cog-geometry-out-of-range": ("cog", _out_of_range_geometry),
    "safe-missing-band": ("safe", _delete_safe_band),
    "safe-truncated-jp2": ("safe", _truncate_jp2),
    "safe-missing-granule": ("safe", _missing_granule),
    "safe-date-in-the-future": ("safe", _safe_future_date),
    "safe-zip-truncated": ("zip", _truncated_zip),
}


def _run(href: str, home: Path, dsn: str) -> None:
    process_product(href, ingest=IngestSettings(_env_file=None, home=home),
                    inference=InferenceSettings(_env_file=None,
                                                model_repository=built(home / "models")),
                    dsn=dsn)


def _assert_nothing_registered(home: Path, dsn: str) -> None:
    with pgstac_session(dsn) as db:
        assert list(db.query("SELECT id FROM items")) == []
    assets = home / "assets"
    assert not assets.exists() or [p for p in assets.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_product_is_refused_by_name(breakage: str, samples: dict[str, Path],
                                           tmp_path: Path, pgstac_dsn: str) -> None:
    layout, breaks = BREAKAGES[breakage]
    product = COPIES[layout](samples, tmp_path / "p")
    message = breaks(product)
    with pytest.raises(InvalidProductError, match=message):
        _run(str(product), tmp_path / "home", pgstac_dsn)
    _assert_nothing_registered(tmp_path / "home", pgstac_dsn)


def test_a_zip_that_is_not_a_safe_is_refused(tmp_path: Path, pgstac_dsn: str) -> None:
    bad = tmp_path / "S2A_MSIL2A_20240701T105031_N0510_R051_T31TCJ.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("holiday/photo.jpg", b"\xff\xd8 not a product")
    with pytest.raises(InvalidProductError, match=rf"{bad.name}: a zip without a SAFE"):
        _run(str(bad), tmp_path / "home", pgstac_dsn)
    _assert_nothing_registered(tmp_path / "home", pgstac_dsn)


def test_the_intact_copies_do_go_through(samples: dict[str, Path], tmp_path: Path,
                                         pgstac_dsn: str) -> None:
    """The breakages above, not the copying, are what the pipeline refuses."""
    _run(str(_cog_copy(samples, tmp_path / "c")), tmp_path / "home", pgstac_dsn)
    _run(str(_safe_copy(samples, tmp_path / "s")), tmp_path / "home", pgstac_dsn)
    with pgstac_session(pgstac_dsn) as db:
        assert len(list(db.query("SELECT id FROM items"))) == 2


def _items(dsn: str) -> list[dict]:
    """The registered items, with the collection link the API adds when it serves them."""
    with pgstac_session(dsn) as db:
        items = [r[0] for r in db.query("SELECT get_item(id) FROM items ORDER BY id")]
    for item in items:
        item.setdefault("links", []).append(
            {"rel": "collection", "href": f"http://api/collections/{item['collection']}"})
    return items


def test_an_all_nodata_product_is_a_valid_empty_item(samples: dict[str, Path],
                                                     tmp_path: Path, pgstac_dsn: str) -> None:
    """No valid pixel (a tile's edge, an orbit's end) is not an error: the product is
    published as observed-and-empty (valid fraction 0, no class), so discovery does not queue
    it every day and mosaics show the older product beneath; a search filters it out with
    ``clc:valid_fraction > 0``."""
    product = _cog_copy(samples, tmp_path / "p")
    for band in BANDS:
        with rasterio.open(product.parent / f"{band}.tif", "r+",
                           IGNORE_COG_LAYOUT_BREAK="YES") as ds:
            ds.write(np.zeros((1, ds.height, ds.width), ds.dtypes[0]))  # 0: the nodata value
    _run(str(product), tmp_path / "home", pgstac_dsn)
    [item] = _items(pgstac_dsn)
    validate_item(item)
    props = item["properties"]
    assert props["clc:valid_fraction"] == 0.0 and props["clc:classes"] == []
    assert not [k for k in props if k.startswith("clc:fraction")]
    with rasterio.open(item["assets"]["landcover"]["href"]) as src:
        assert src.nodata == 0 and not src.read(1).any()
    with rasterio.open(item["assets"]["confidence"]["href"]) as src:
        assert (src.read(1) == src.nodata).all()


def _move_across_the_antimeridian(product: Path) -> list[list[float]]:
    """Shift the rasters of a sample in UTM zone 1 onto the 180th meridian and give the item
    the naive footprint a careless provider would: a ring from +179.99 to -179.99."""
    to_lonlat = Transformer.from_crs("EPSG:32701", "EPSG:4326", always_xy=True)
    x0, y0 = 179384.0 - SIZE * 10 / 2, 8195520.0
    for path in product.parent.glob("*.tif"):
        with rasterio.open(path, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:
            res = ds.transform.a
            ds.transform = rasterio.Affine(res, 0, x0, 0, -res, y0)
    corners = [(x0, y0), (x0 + SIZE * 10, y0), (x0 + SIZE * 10, y0 - SIZE * 10),
               (x0, y0 - SIZE * 10), (x0, y0)]
    ring = [list(to_lonlat.transform(x, y)) for x, y in corners]
    lons = [p[0] for p in ring]
    assert min(lons) < -179.9 and max(lons) > 179.9  # it does straddle

    def naive(item: dict) -> None:
        item["geometry"] = {"type": "Polygon", "coordinates": [ring]}
        item["bbox"] = [min(lons), min(p[1] for p in ring), max(lons), max(p[1] for p in ring)]

    _edit_item(product, naive)
    return ring


def test_a_footprint_across_the_antimeridian_is_split(tmp_path: Path, pgstac_dsn: str) -> None:
    """Published where it is: a MultiPolygon on either side of 180°, a bbox with west > east
    (STAC's rule), found by searches on both sides and not by one on the other side of the
    globe."""
    product = make_sample_product("T01KAB", DAY, SIZE, tmp_path / "am", seed=3)
    _move_across_the_antimeridian(product)
    _run(str(product), tmp_path / "home", pgstac_dsn)
    [item] = _items(pgstac_dsn)
    validate_item(item)
    assert item["geometry"]["type"] == "MultiPolygon"
    west, south, east, north = item["bbox"]
    assert 179.9 < west < 180 and -180 < east < -179.9 and south < north
    with pgstac_session(pgstac_dsn) as db:
        def found(bbox: list[float]) -> list[str]:
            search = {"bbox": bbox, "collections": ["landcover"]}
            return [f["id"] for f in
                    next(iter(db.query("SELECT search(%s::jsonb)", [json.dumps(search)])))[0]
                    ["features"]]

        lat = (south + north) / 2
        assert found([179.99, lat - 0.01, 180, lat + 0.01]) == [item["id"]]
        assert found([-180, lat - 0.01, -179.99, lat + 0.01]) == [item["id"]]
        assert found([0, lat - 0.01, 0.01, lat + 0.01]) == []  # not around the globe
