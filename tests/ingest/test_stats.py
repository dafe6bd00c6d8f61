"""Class statistics on hand-made grids: fractions over valid pixels, cloud cover, coverage."""

import numpy as np
import pytest

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from ingest.clouds.cloudmask import cloudmask_from_scl
from ingest.outputs.stats import landcover_stats

WATER, FOREST = clc.grid_code_of(512), clc.grid_code_of(311)


def test_fractions_exclude_nodata_and_clouds() -> None:
    classes = np.zeros((10, 10), np.uint8)
    classes[:, :6] = WATER  # 60 px
    classes[:, 6:9] = FOREST  # 30 px, column 9 stays nodata
    mask = np.full((10, 10), cm.CLEAR, np.uint8)
    mask[:, 9] = cm.NODATA
    mask[:2, :6] = cm.CLOUD  # hides 12 water px
    mask[2:4, :6] = cm.SHADOW  # hides 12 more
    mask[0, 6:9] = cm.SNOW  # snow is seen land cover: counted
    stats = landcover_stats(classes, mask)
    assert stats.pixel_counts == {512: 36, 311: 30}
    assert stats.fractions == pytest.approx({512: 36 / 66, 311: 30 / 66})
    assert stats.cloud_cover == pytest.approx(100 * 24 / 90)
    assert stats.valid_fraction == pytest.approx(66 / 100)
    props = stats.properties()
    assert props["clc:classes"] == ["311", "512"]
    assert props["clc:fraction_512"] == pytest.approx(0.545455)
    assert "clc:fraction_211" not in props


def test_all_clouded_has_no_fractions() -> None:
    classes = np.full((4, 4), FOREST, np.uint8)
    stats = landcover_stats(classes, np.full((4, 4), cm.CLOUD, np.uint8))
    assert stats.fractions == {} and stats.cloud_cover == 100.0 and stats.valid_fraction == 0.0


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="differ"):
        landcover_stats(np.zeros((2, 2), np.uint8), np.zeros((3, 3), np.uint8))


def test_scl_mapping() -> None:
    scl = np.arange(13, dtype=np.uint8)
    assert cloudmask_from_scl(scl).tolist() == [0, 0, 1, 4, 1, 1, 1, 1, 2, 2, 3, 5, 0]


def test_strip_by_strip_equals_the_whole_grid_at_once() -> None:
    # A generated scene several strips high (with a partial last strip): the statistics
    # equal the former whole-array computation exactly.
    from ingest.outputs.stats import STRIP_ROWS

    rng = np.random.default_rng(11)
    shape = (STRIP_ROWS * 3 + 77, 301)
    classes = rng.integers(0, len(clc.clc_classes()) + 1, size=shape, dtype=np.uint8)
    mask = rng.integers(cm.NODATA, cm.SNOW + 1, size=shape, dtype=np.uint8)
    observed = mask != cm.NODATA
    hidden = observed & np.isin(mask, cm.OBSCURED)
    valid = (classes > 0) & observed & ~hidden
    counts = np.bincount(classes[valid], minlength=len(clc.clc_classes()) + 1)
    stats = landcover_stats(classes, mask)
    assert stats.pixel_counts == {clc.by_grid_code(g).clc_code: int(counts[g])
                                  for g in np.flatnonzero(counts) if g > 0}
    assert stats.cloud_cover == 100.0 * int(hidden.sum()) / int(observed.sum())
    assert stats.valid_fraction == int(valid.sum()) / classes.size
