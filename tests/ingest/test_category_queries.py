"""Category queries against pgstac on items the pipeline published, checked against the truth.

"items where 311 covers more than 20 %", "items that contain 335", "items with less than
10 % cloud": CQL2 through pgstac's own search, with the queryables the pipeline registers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling

from catalog_schemas import clc
from inference.settings import InferenceSettings
from ingest.catalog.pgstac_db import pgstac_session
from ingest.clouds.cloudmask import cloudmask_from_scl, obscured
from ingest.pipeline import process_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built

PRODUCTS = [("T31TCJ", date(2024, 7, 1), 1, 0.0), ("T31TCJ", date(2024, 7, 11), 2, 40.0),
            ("T31TDJ", date(2024, 7, 1), 3, 5.0), ("T31TDJ", date(2024, 7, 21), 4, 0.0)]


@dataclass
class Truth:
    item_id: str
    fractions: dict[int, float]
    cloud_cover: float


def _truth(product: Path) -> tuple[dict[int, float], float]:
    with rasterio.open(product.parent / "truth_landcover.tif") as src:
        truth = src.read(1)
    with rasterio.open(product.parent / "SCL.tif") as src:
        cloud = cloudmask_from_scl(src.read(1, out_shape=truth.shape,
                                            resampling=Resampling.nearest))
    hidden = obscured(cloud)
    valid = ~hidden & (cloud > 0)
    codes, counts = np.unique(truth[valid], return_counts=True)
    fractions = {clc.by_grid_code(g).clc_code: n / valid.sum()
                 for g, n in zip(codes, counts, strict=True)}
    return fractions, 100 * hidden.sum() / (cloud > 0).sum()


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory, module_pgstac_dsn: str) -> list[Truth]:
    home = tmp_path_factory.mktemp("home")
    ingest = IngestSettings(_env_file=None, home=home)
    inference = InferenceSettings(_env_file=None, model_repository=built(home / "models"))
    truths = []
    for tile, day, seed, cloud in PRODUCTS:
        product = make_sample_product(tile, day, 384, home / "samples", seed=seed,
                                      cloud_cover=cloud)
        result = process_product(str(product), ingest=ingest, inference=inference,
                                 dsn=module_pgstac_dsn)
        truths.append(Truth(result.item_id, *_truth(product)))
    return truths


def _search(dsn: str, cql2: dict) -> set[str]:
    body = {"collections": ["landcover"], "filter-lang": "cql2-json", "filter": cql2,
            "limit": 100}
    with pgstac_session(dsn) as db:
        [(result,)] = list(db.query("SELECT search(%s::jsonb)", [json.dumps(body)]))
    return {f["id"] for f in result["features"]}


def test_fraction_over_a_threshold(catalog: list[Truth], module_pgstac_dsn: str) -> None:
    threshold = float(np.median([t.fractions.get(311, 0) for t in catalog]))
    expected = {t.item_id for t in catalog if t.fractions.get(311, 0) > threshold}
    assert 0 < len(expected) < len(catalog)  # the query must separate the items
    found = _search(module_pgstac_dsn, {"op": ">", "args": [
        {"property": "clc:fraction_311"}, threshold]})
    assert found == expected


def test_items_containing_a_class(catalog: list[Truth], module_pgstac_dsn: str) -> None:
    for code in (335, 112, 221):
        expected = {t.item_id for t in catalog if t.fractions.get(code, 0) > 0}
        found = _search(module_pgstac_dsn, {"op": "a_contains", "args": [
            {"property": "clc:classes"}, [str(code)]]})
        assert found == expected, code
    assert not _search(module_pgstac_dsn, {"op": "a_contains", "args": [
        {"property": "clc:classes"}, ["221"]]})  # no vineyards in these scenes


def test_less_cloud_than(catalog: list[Truth], module_pgstac_dsn: str) -> None:
    expected = {t.item_id for t in catalog if t.cloud_cover < 10}
    assert 0 < len(expected) < len(catalog)
    found = _search(module_pgstac_dsn, {"op": "<", "args": [{"property": "eo:cloud_cover"},
                                                            10]})
    assert found == expected


def test_numeric_sort_by_fraction(catalog: list[Truth], module_pgstac_dsn: str) -> None:
    body = {"collections": ["landcover"], "sortby": [
        {"field": "properties.clc:fraction_512", "direction": "asc"}], "limit": 100,
        "filter-lang": "cql2-json", "filter": {"op": "a_contains", "args": [
            {"property": "clc:classes"}, ["512"]]}}
    with pgstac_session(module_pgstac_dsn) as db:
        [(result,)] = list(db.query("SELECT search(%s::jsonb)", [json.dumps(body)]))
    order = [f["id"] for f in result["features"]]
    expected = sorted((t for t in catalog if 512 in t.fractions),
                      key=lambda t: t.fractions[512])
    assert order == [t.item_id for t in expected]
