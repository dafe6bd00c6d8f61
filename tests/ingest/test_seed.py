"""Which tiles publishing draws ahead (ingest.catalog.seed), and that a tiler that is down costs the
product nothing."""

from __future__ import annotations

import morecantile
import pytest

from ingest.catalog.seed import (
    CONCURRENCY,
    MAX_WARNINGS,
    parse_zooms,
    seed_item,
    seed_tiles,
    tile_paths,
)

WMQ = morecantile.tms.get("WebMercatorQuad")
ITEM = {"id": "S2A_T31TCJ_x", "collection": "landcover", "bbox": [0.9, 43.2, 1.4, 43.6]}


def test_zoom_ranges() -> None:
    assert parse_zooms("8-12") == range(8, 13)
    assert parse_zooms("11-11") == range(11, 12)
    assert parse_zooms("") == range(0)
    with pytest.raises(ValueError, match="12-8"):
        parse_zooms("12-8")


def test_the_item_and_its_mosaic_at_their_zooms_every_tile_once() -> None:
    paths = tile_paths(ITEM, range(8, 13), range(8, 10))
    expected_item = {f"/collections/landcover/items/S2A_T31TCJ_x/tiles/WebMercatorQuad/"
                     f"{t.z}/{t.x}/{t.y}.png" for t in WMQ.tiles(*ITEM["bbox"], zooms=[8, 9, 10,
                                                                                    11, 12])}
    expected_mosaic = {f"/collections/landcover/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"
                       for t in WMQ.tiles(*ITEM["bbox"], zooms=[8, 9])}
    assert len(paths) == len(set(paths))
    assert set(paths) == expected_item | expected_mosaic
    assert len(expected_item) > 20  # z12 alone is several tiles across 40 km
    assert tile_paths({**ITEM, "bbox": None}, range(8, 13), range(8, 12)) == []
    # A 3D bbox is the same footprint.
    west, south, east, north = ITEM["bbox"]
    assert tile_paths({**ITEM, "bbox": [west, south, 0.0, east, north, 900.0]},
                      range(8, 13), range(8, 10)) == paths


def test_a_tiler_that_is_down_costs_a_warning_not_the_product(
        caplog: pytest.LogCaptureFixture) -> None:
    result = seed_item(ITEM, "http://127.0.0.1:9", "12-12", "")
    total = len(tile_paths(ITEM, range(12, 13), range(0)))
    # Stopped at the first refused connection (up to one per worker thread in flight).
    assert result.drawn == 0 and 1 <= result.failed <= CONCURRENCY
    assert result.failed + result.skipped == total
    assert caplog.text.count("unreachable, stopping") <= MAX_WARNINGS
    assert f"{result.skipped} not asked" in caplog.text
    bad = seed_item(ITEM, "http://127.0.0.1:9", "twelve", "")  # a bad setting: logged too
    assert bad.drawn == 0 and "not drawn ahead" in caplog.text


def test_seeding_stops_when_its_time_is_up() -> None:
    paths = tile_paths(ITEM, range(12, 13), range(0))
    result = seed_tiles("http://127.0.0.1:9", paths, what="x", budget_s=0.0)
    assert (result.drawn, result.failed, result.skipped) == (0, 0, len(paths))


def test_a_malformed_zoom_setting_is_refused_at_start() -> None:
    from pydantic import ValidationError

    from ingest.settings import IngestSettings

    with pytest.raises(ValidationError, match="seed_item_zooms"):
        IngestSettings(_env_file=None, seed_item_zooms="8..12")
    assert IngestSettings(_env_file=None, seed_mosaic_zooms="").seed_mosaic_zooms == ""
