"""Change detection on generated acquisitions of one tile whose ground truth changes in a known
way: a square of broad-leaved forest burns (311 -> 334) between June and July.

The land-cover model is the reference ``clc-spectral:3``, whose burnt-area leaf reads the burn
ratio NBR (B08, B12) (inference/spectral_v3.py). On clear pixels it reproduces the generated
truth, the burn included, so the change raster must equal the truth's transitions exactly.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from click.testing import CliRunner
from pystac.extensions.classification import ClassificationExtension
from rasterio.enums import Resampling
from rasterio.features import geometry_mask, shapes
from rasterio.warp import transform_geom

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from catalog_schemas import landcover_change as ch
from catalog_schemas.validation import validate_item
from inference.settings import InferenceSettings
from infra.postgres import libpq_env
from ingest.catalog.pgstac_db import pgstac_session
from ingest.clouds.cloudmask import cloudmask_from_scl
from ingest.derived import landcover_change as changes
from ingest.derived.inputs import get_item
from ingest.pipeline import process_product
from ingest.settings import IngestSettings
from samples import generate_scene, make_sample_product
from samples.changes import Conversion
from tests.models import built

TILE, SIZE, SEED, SQUARE, MARGIN = "32TQM", 512, 11, 48, 8
D0, D1, D2 = date(2024, 5, 1), date(2024, 6, 1), date(2024, 7, 1)
CLOUDS = {D0: 0.0, D1: 10.0, D2: 25.0}
MODEL = "clc-spectral:3"
FOREST, BURNT = clc.grid_code_of(311), clc.grid_code_of(334)


def _forest_square() -> Conversion:
    """A rectangle around a square of pure broad-leaved forest, clear in every acquisition,
    whose forest pixels (and only those) convert: one connected burnt patch."""
    before = generate_scene(TILE, D0, SIZE, seed=SEED).truth()
    clear = np.ones((SIZE, SIZE), bool)
    for day, cover in CLOUDS.items():
        scl = generate_scene(TILE, day, SIZE, seed=SEED, cloud_cover=cover).scl()
        clear &= np.repeat(np.repeat(cloudmask_from_scl(scl) == cm.CLEAR, 2, 0), 2, 1)
    forest = np.isin(before, [FOREST, clc.grid_code_of(312)])
    for r in range(MARGIN, SIZE - SQUARE - MARGIN, 8):
        for c in range(MARGIN, SIZE - SQUARE - MARGIN, 8):
            core = (slice(r, r + SQUARE), slice(c, c + SQUARE))
            rect = (slice(r - MARGIN, r + SQUARE + MARGIN), slice(c - MARGIN, c + SQUARE + MARGIN))
            if not ((before[core] == FOREST).all() and clear[rect].all()
                    and not forest[rect].all()):
                continue
            patch = forest[rect].astype(np.uint8)
            if len(list(shapes(patch, mask=patch.astype(bool), connectivity=8))) == 1:
                return Conversion((r - MARGIN, r + SQUARE + MARGIN),
                                  (c - MARGIN, c + SQUARE + MARGIN), 334, (311, 312))
    raise AssertionError("no clear forest square in the generated scene")


@dataclass
class Scenes:
    conversion: Conversion
    items: dict[date, pystac.Item]
    truth: dict[date, np.ndarray]
    clear: dict[date, np.ndarray]  # the land cover is visible (not cloud/shadow/nodata)
    ingest: IngestSettings
    dsn: str


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory, module_pgstac_dsn: str) -> Scenes:
    home = tmp_path_factory.mktemp("home")
    ingest = IngestSettings(_env_file=None, home=home)
    inference = InferenceSettings(_env_file=None, model_repository=built(home / "models"))
    conversion = _forest_square()
    items, truth, clear = {}, {}, {}
    for day, cover in CLOUDS.items():
        product = make_sample_product(TILE, day, SIZE, home / "products", seed=SEED,
                                      cloud_cover=cover,
                                      conversions=(conversion,) if day == D2 else ())
        result = process_product(str(product), MODEL, ingest=ingest, inference=inference,
                                 dsn=module_pgstac_dsn)
        items[day] = get_item(result.item_id, dsn=module_pgstac_dsn)
        with rasterio.open(product.parent / "truth_landcover.tif") as src:
            truth[day] = src.read(1)
        with rasterio.open(product.parent / "SCL.tif") as src:
            scl = src.read(1, out_shape=(SIZE, SIZE), resampling=Resampling.nearest)
        mask = cloudmask_from_scl(scl)
        clear[day] = ~np.isin(mask, (*cm.OBSCURED, cm.NODATA))
    return Scenes(conversion, items, truth, clear, ingest, module_pgstac_dsn)


@pytest.fixture(scope="module")
def pair(scenes: Scenes) -> changes.ChangeResult:
    return changes.detect_changes(tile=TILE, before=D1, after=D2, model=MODEL, publish=True,
                                  ingest=scenes.ingest, dsn=scenes.dsn)


def _expected(before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return np.where(valid, before.astype(np.uint16) * 100 + after, 0).astype(np.uint16)


def _planted(scenes: Scenes) -> np.ndarray:
    return (scenes.truth[D1] != scenes.truth[D2])


def test_generated_truth_changes_only_in_the_planted_forest(scenes: Scenes) -> None:
    changed = _planted(scenes)
    (r0, r1), (c0, c1) = scenes.conversion.rows, scenes.conversion.cols
    inside = np.zeros_like(changed)
    inside[r0:r1, c0:c1] = True
    assert changed.sum() >= SQUARE * SQUARE and not (changed & ~inside).any()
    assert (scenes.truth[D2][changed] == BURNT).all()
    assert np.isin(scenes.truth[D1][changed], [FOREST, clc.grid_code_of(312)]).all()
    assert not changed[inside].all()  # the rectangle held more than forest: that stayed


def test_change_raster_equals_the_truth_transitions(scenes: Scenes,
                                                    pair: changes.ChangeResult) -> None:
    assert [i.id for i in pair.inputs.before] == [scenes.items[D1].id]
    assert [i.id for i in pair.inputs.after] == [scenes.items[D2].id]
    valid = scenes.clear[D1] & scenes.clear[D2]
    expected = _expected(scenes.truth[D1], scenes.truth[D2], valid)
    np.testing.assert_array_equal(pair.change, expected)
    # Clouds of either date are nodata, and there are some of each.
    assert (~scenes.clear[D1]).sum() > 1000 and (~scenes.clear[D2] & scenes.clear[D1]).sum()
    assert (pair.change[~valid] == 0).all()
    with rasterio.open(pair.item.assets[ch.CHANGE_ASSET].href) as src:
        assert src.dtypes[0] == "uint16" and src.nodata == 0
        np.testing.assert_array_equal(src.read(1), expected)


def test_summary_areas_equal_the_truth(scenes: Scenes, pair: changes.ChangeResult) -> None:
    expected = _expected(scenes.truth[D1], scenes.truth[D2], scenes.clear[D1] & scenes.clear[D2])
    values, counts = np.unique(expected[expected > 0], return_counts=True)
    truth_table = {ch.transition_name(v)[0]: int(n) for v, n in zip(values, counts,
                                                                     strict=True)}
    with open(pair.item.assets[ch.SUMMARY_ASSET].href, encoding="utf-8") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    table = {(r["from_clc"] if r["from_clc"] == r["to_clc"] else
              f"{r['from_clc']}-{r['to_clc']}"): int(r["pixels"]) for r in rows}
    assert table == truth_table
    for r in rows:  # 10 m pixels: 0.01 ha each
        assert r["area_ha"] == f"{int(r['pixels']) / 100:.4f}"
    burnt = int(((expected // 100 == FOREST) & (expected % 100 == BURNT)).sum())
    assert burnt >= SQUARE * SQUARE
    assert {r["changed"] for r in rows if r["from_clc"] == "311" and r["to_clc"] == "334"} \
        == {"1"}
    props = pair.item.properties
    assert props[ch.CHANGED_AREA] == pytest.approx(int(_planted(scenes).sum()) / 100)


def test_change_item_lineage_and_fields(scenes: Scenes, pair: changes.ChangeResult) -> None:
    stored = get_item(pair.item.id, ch.CHANGES_COLLECTION_ID, dsn=scenes.dsn)
    d = stored.to_dict()
    # The API adds the collection link when it serves the item (as for landcover items).
    validate_item({**d, "links": [*d["links"], {"rel": "collection", "type": "application/json",
                                                "href": "https://api.example/collections/changes"}]})
    assert stored.collection_id == "changes"
    assert stored.id == f"change_{TILE}_20240601_20240701_clc-spectral_v3"
    lineage = [ln.href for ln in stored.links if ln.rel == "derived_from"]
    assert lineage == [f"../../landcover/items/{scenes.items[D1].id}",
                       f"../../landcover/items/{scenes.items[D2].id}"]
    props = stored.properties
    assert props["start_datetime"].startswith("2024-06-01")
    assert props["end_datetime"].startswith("2024-07-01")
    assert props[ch.MODEL] == MODEL and props[ch.TILE] == TILE and props[ch.MODE] == "pair"
    assert props["processing:level"] == "L4" and "processing:lineage" in props
    with pgstac_session(scenes.dsn) as db:  # partitioned by month, as landcover
        assert [r[0] for r in db.query("SELECT partition_trunc FROM collections WHERE id = %s",
                                       [ch.CHANGES_COLLECTION_ID])] == ["month"]
    classes = ClassificationExtension.ext(stored.assets[ch.CHANGE_ASSET]).classes
    by_value = {c.value: c for c in classes}
    assert by_value[FOREST * 100 + BURNT].description == "Broad-leaved forest -> Burnt areas"
    assert {c.value for c in classes} == {ch.encode(clc.grid_code_of(int(t["from"])),
                                                    clc.grid_code_of(int(t["to"])))
                                          for t in props[ch.TRANSITIONS]}
    assert stored.assets[ch.CHANGE_ASSET].extra_fields["file:checksum"].startswith("1220")
    # Recomputing replaces the item and its files: one item, one run folder.
    again = changes.detect_changes(tile=TILE, before=D1, after=D2, model=MODEL, publish=True,
                                   ingest=scenes.ingest, dsn=scenes.dsn)
    assert again.item.id == stored.id
    runs = Path(again.item.assets[ch.CHANGE_ASSET].href).parent.parent
    assert len([p for p in runs.iterdir() if not p.name.startswith(".")]) == 1


def test_alert_lists_exactly_the_planted_patch(scenes: Scenes,
                                               pair: changes.ChangeResult) -> None:
    found = changes.alerts(D1, D2, "forest:burnt", min_ha=5, dsn=scenes.dsn)
    planted = _planted(scenes)
    assert len(found) == 1
    alert = found[0]
    assert alert.item_id == pair.item.id and alert.transitions == ("311-334",)
    assert alert.pixels == int(planted.sum()) and alert.area_ha == planted.sum() / 100
    # The region's outline, back on the grid, covers exactly the planted pixels.
    outline = transform_geom("EPSG:4326", pair.crs, alert.geometry)
    inside = geometry_mask([outline], planted.shape, pair.transform, invert=True)
    np.testing.assert_array_equal(inside, planted)
    lons, lats = zip(*alert.geometry["coordinates"][0], strict=True)
    assert alert.bbox == pytest.approx((min(lons), min(lats), max(lons), max(lats)), abs=1e-6)
    assert changes.alerts(D1, D2, "forest:burnt", min_ha=alert.area_ha + 0.01,
                          dsn=scenes.dsn) == []
    assert changes.alerts(D1, D2, "31:water", dsn=scenes.dsn) == []
    assert changes.alerts(date(2023, 1, 1), date(2023, 12, 31), "forest:burnt",
                          dsn=scenes.dsn) == []
    with pytest.raises(ValueError, match="unknown class group 'woods'"):
        changes.alerts(D1, D2, "woods:burnt", dsn=scenes.dsn)


def test_composite_takes_the_latest_clear_pixel(scenes: Scenes) -> None:
    result = changes.detect_changes(tile=TILE, at=date(2024, 5, 15), model=MODEL,
                                    dsn=scenes.dsn)
    assert [i.id for i in result.inputs.before] == [scenes.items[D0].id]
    assert [i.id for i in result.inputs.after] == [scenes.items[D1].id, scenes.items[D2].id]
    # After: July where July is clear, else June where June is; before: May (cloud-free).
    after = np.where(scenes.clear[D2], scenes.truth[D2],
                     np.where(scenes.clear[D1], scenes.truth[D1], 0))
    expected = _expected(scenes.truth[D0], after, after > 0)
    np.testing.assert_array_equal(result.change, expected)
    fallback = ~scenes.clear[D2] & scenes.clear[D1]
    assert fallback.sum() > 1000 and (result.change[fallback] > 0).all()
    assert result.inputs.mode == "composite"


def test_bad_requests_name_the_problem(scenes: Scenes) -> None:
    with pytest.raises(changes.InvalidProductError, match="no landcover item on or after"):
        changes.detect_changes(tile=TILE, before=D1, after=date(2024, 9, 1), dsn=scenes.dsn)
    with pytest.raises(changes.InvalidProductError, match="no item 'nope'"):
        changes.detect_changes(items=("nope", scenes.items[D2].id), dsn=scenes.dsn)
    with pytest.raises(ValueError, match="name the inputs"):
        changes.detect_changes(tile=TILE, dsn=scenes.dsn)


def test_cli_changes_and_alerts(scenes: Scenes, pair: changes.ChangeResult,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.cli import main

    for key, value in libpq_env(scenes.dsn).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EARTHSIG_HOME", str(scenes.ingest.home))
    out = CliRunner().invoke(main, ["changes", "--tile", TILE, "--before", "2024-06-01",
                                    "--after", "2024-07-01", "--model", MODEL])
    assert out.exit_code == 0, out.output
    assert "311 -> 334" in out.output and "Broad-leaved forest -> Burnt areas" in out.output
    listed = CliRunner().invoke(main, ["changes", "alerts", "--from", "2024-06-01", "--to",
                                       "2024-07-01", "--transition", "forest:burnt",
                                       "--min-ha", "5", "--json"])
    assert listed.exit_code == 0, listed.output
    import json

    [alert] = json.loads(listed.output)
    assert alert["item"] == pair.item.id and alert["transitions"] == ["311-334"]
    bad = CliRunner().invoke(main, ["changes", "alerts", "--from", "2024-06-01", "--to",
                                    "2024-07-01", "--transition", "forest"])
    assert bad.exit_code != 0 and "is not FROM:TO" in bad.output
