"""Patch-level scoring (evaluation.patch_scores) on hand-made grids with known answers, and the real
BigEarthNet patches that ship in registry packages (samples.real_patches)."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from catalog_schemas import clc
from evaluation import patch_scores as pe
from samples import real_patches as rp
from samples.bigearthnet import BEN19_CLC

ROOT = Path(__file__).parents[2] / rp.DEFAULT_ROOT


def grid(counts: dict[int, int]) -> np.ndarray:
    """A class grid with ``counts[code]`` pixels of each code (0 = no class)."""
    return np.concatenate([np.full(n, code, dtype=np.int32) for code, n in counts.items()])


def truth(patch_id: str, *codes: int, sea: bool = False, season: str = "summer"
          ) -> pe.PatchTruth:
    return pe.PatchTruth(patch_id, frozenset(codes), sea, season)


# --- per-patch math -----------------------------------------------------------------------

def test_f1_and_hit_on_a_hand_made_grid():
    # 96 classified pixels: 311 62.5 %, 211 31.25 %, 512 6.25 % (< 10 %: not found).
    classes = grid({311: 60, 211: 30, 512: 6, 0: 4}).reshape(10, 10)
    patch = truth("p", 312, 231, 512)  # L1 {3, 2, 5}, L2 {31, 23, 51}
    assert pe.predicted_set(classes, 1) == {2, 3}
    assert pe.predicted_set(classes, 2) == {21, 31}
    level1, level2 = (pe.score_patch(classes, patch, level) for level in (1, 2))
    assert level1.truth == {2, 3, 5} and level2.truth == {23, 31, 51}
    assert level1.f1 == pytest.approx(2 * 2 / (2 + 3))  # 0.8
    assert level2.f1 == pytest.approx(2 * 1 / (2 + 3))  # 0.4
    assert level1.dominant_clc == level2.dominant_clc == 311
    assert (level1.dominant, level1.hit) == (3, True)
    assert (level2.dominant, level2.hit) == (31, True)  # 311's parent 31 is 312's too


def test_dominant_miss_and_empty_grid():
    patch = truth("p", 311)
    miss = pe.score_patch(np.full((4, 4), 211), patch, 2)
    assert (miss.f1, miss.hit, miss.dominant_clc) == (0.0, False, 211)
    empty = pe.score_patch(np.zeros((4, 4), dtype=np.uint8), patch, 1)
    assert (empty.predicted, empty.f1, empty.hit, empty.dominant_clc) == (frozenset(), 0.0,
                                                                          False, None)
    assert pe.example_f1(frozenset(), frozenset()) == 1.0


def test_pixels_are_summed_into_their_level_before_the_threshold():
    classes = grid({311: 6, 312: 6, 211: 88})  # each forest class 6 %, forests 12 %
    assert pe.predicted_set(classes, 3) == {211}
    assert pe.predicted_set(classes, 2) == {21, 31}
    assert pe.predicted_set(classes, 1) == {2, 3}


def test_exactly_ten_percent_is_found():
    classes = grid({523: 3, 211: 27})  # 3 / 30 = 0.1
    assert pe.predicted_set(classes, 2) == {21, 52}
    assert pe.predicted_set(grid({523: 2, 211: 28}), 2) == {21}
    # Exactly the share, though 0.28 * 25 > 7 in floating point.
    assert pe.predicted_set(grid({311: 7, 211: 18}), 1, share=0.28) == {2, 3}


def test_dominant_ties_go_to_the_lowest_code():
    assert pe.dominant_class(grid({311: 5, 211: 5})) == 211


def test_grid_codes_are_refused():
    with pytest.raises(ValueError, match="not CLC level-3 codes"):
        pe.predicted_set(np.array([23, 23, 0]), 1)  # grid code 23 = CLC 311
    with pytest.raises(ValueError, match="integer"):
        pe.predicted_set(np.array([311.0]), 1)


def test_levels_are_the_legend_groups():
    classes = clc.clc_classes()
    level2 = {pe.parent(c.clc_code, 2): c.level2 for c in classes}
    level1 = {pe.parent(c.clc_code, 1): c.level1 for c in classes}
    assert len(level2) == len(set(level2.values())) == 15
    assert len(level1) == len(set(level1.values())) == 5
    for c in classes:
        assert level2[pe.parent(c.clc_code, 2)] == c.level2
        assert level1[pe.parent(c.clc_code, 1)] == c.level1
    with pytest.raises(clc.UnknownClassError):
        pe.parent(999, 1)


def test_a_benv2_group_maps_to_every_parent_of_its_codes():
    grassland = frozenset(BEN19_CLC["Natural grassland and sparsely vegetated areas"])
    assert grassland == {321, 333}
    assert pe.truth_set(grassland, 2) == {32, 33}
    assert pe.truth_set(grassland, 1) == {3}
    assert pe.truth_set(BEN19_CLC["Permanent crops"], 2) == {22, 24}
    # Deflated: the model finds the one class really there; inflated: the hit.
    patch = truth("v2", *grassland)
    found = pe.score_patch(np.full(9, 321), patch, 2)
    assert found.f1 == pytest.approx(2 / 3)
    assert pe.score_patch(np.full(9, 333), patch, 2).hit
    # No group spans two level-1 classes: level 1 is exact.
    for codes in BEN19_CLC.values():
        assert len(pe.truth_set(codes, 1)) == 1


# --- aggregates ---------------------------------------------------------------------------

def test_bootstrap_interval_contains_the_mean_and_is_deterministic():
    values = [0.0, 1.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.75]
    figure = pe.bootstrap_mean(values)
    assert figure.mean == pytest.approx(np.mean(values))
    assert figure.low < figure.mean < figure.high
    assert figure.low >= 0.0 and figure.high <= 1.0
    assert figure.n == len(values)
    assert pe.bootstrap_mean(values) == figure
    assert pe.bootstrap_mean(values, seed=1) != figure
    assert pe.bootstrap_mean([0.5] * 5) == pe.Figure(0.5, 0.5, 0.5, 5)
    empty = pe.bootstrap_mean([])
    assert empty.n == 0 and math.isnan(empty.mean)


def test_bootstrap_interval_width_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = pe.bootstrap_mean(rng.random(10))
    large = pe.bootstrap_mean(rng.random(1000))
    assert large.high - large.low < (small.high - small.low) / 4


HAND_MADE = [truth("forest+arable", 311, 211), truth("conifer", 312),
             truth("sea", 523, sea=True, season="winter"), truth("farm", 211, 231)]


def test_always_311_baseline_by_hand():
    ev = pe.constant_class_baseline(HAND_MADE)
    # Per patch, L1 and L2 alike: 2/3, 1, 0, 0; dominant hits: yes, yes, no, no.
    for level in (1, 2):
        assert ev.f1(level).mean == pytest.approx(5 / 12)
        assert ev.hit_rate(level).mean == pytest.approx(0.5)
        assert ev.f1(level).n == 4
    assert ev.f1(2, "land") == pe.bootstrap_mean([2 / 3, 1.0, 0.0])
    assert (ev.f1(2, "sea").mean, ev.f1(2, "sea").n) == (0.0, 1)
    assert ev.f1(2, "winter").n == 1 and ev.f1(2, "summer").n == 3
    assert pe.sea_called_marine(ev) == (0, 1)
    assert pe.sea_marine_line(ev) == "sea patches called marine: 0 of 1"


def test_best_constant_set_by_hand():
    patches = [truth("a", 211), truth("b", 211, 311), truth("c", 312, 512)]  # L1 {2} {2,3} {3,5}
    # {2, 3}: (2/3 + 1 + 1/2) / 3 = 13/18 beats {2, 3, 5}: (1/2 + 4/5 + 4/5) / 3 = 0.7,
    # {2}: 5/9, {2, 5}: 5/9, {3, 5}: 1/2, {3}: 4/9, {5}: 2/9 and {}: 0.
    labels, mean = pe.best_constant_set(patches, 1)
    assert labels == {2, 3}
    assert mean == pytest.approx(13 / 18)
    ev = pe.best_constant_baseline(patches)
    assert ev.chosen_on_set
    assert ev.f1(1).mean == pytest.approx(13 / 18)
    assert ev.answer[1] == (frozenset({2, 3}), 2)  # 2 and 3 in two truths each: the lowest
    assert ev.hit_rate(1).mean == pytest.approx(2 / 3)


def test_best_constant_set_is_the_brute_force_optimum():
    rng = np.random.default_rng(7)
    codes = [111, 211, 231, 242, 311, 312, 324, 411, 512, 523]
    for _ in range(20):
        patches = [truth(f"p{i}", *rng.choice(codes, size=rng.integers(1, 4), replace=False))
                   for i in range(int(rng.integers(3, 12)))]
        for level in (1, 2):
            truths = [pe.truth_set(p.labels_clc, level) for p in patches]
            seen = sorted(set().union(*truths))
            brute = max(np.mean([pe.example_f1(frozenset(s), t) for t in truths])
                        for r in range(len(seen) + 1) for s in itertools.combinations(seen, r))
            labels, mean = pe.best_constant_set(patches, level)
            assert mean == pytest.approx(brute)
            assert np.mean([pe.example_f1(labels, t) for t in truths]) == pytest.approx(brute)


def test_evaluate_needs_every_patch():
    with pytest.raises(ValueError, match="no prediction"):
        pe.evaluate("m", {"a": np.full(4, 311)}, [truth("a", 311), truth("b", 311)])


def test_report_has_one_row_per_result_and_marks_the_chosen_baseline():
    model = pe.evaluate("toy model", {p.id: np.full(4, 523 if p.sea else 211)
                                      for p in HAND_MADE}, HAND_MADE)
    results = {"toy model": model, **pe.baselines(HAND_MADE)}
    lines = pe.report_lines(results)
    header = lines[1]
    for column in ("L1 F1", "L2 F1", "L1 hit", "L2 hit", "land F1 L2", "sea F1 L2",
                   "summer F1 L2", "winter F1 L2", "n"):
        assert column in header
    rows = lines[2:5]
    assert [r.split("  ")[0].strip() for r in rows] == [
        "toy model", "baseline: always 311 (Broad-leaved forest)",
        f"baseline: best constant set ({pe.CHOSEN_ON_SET}) *"]
    assert "n=3" in rows[0] and "n=1" in rows[0] and rows[0].rstrip().endswith("4")
    assert any(line.startswith("* baseline: best constant set") and pe.CHOSEN_ON_SET in line
               for line in lines)
    assert "toy model: sea patches called marine: 1 of 1" in lines


# --- the real patches ---------------------------------------------------------------------

# What the sources say (bigearthnet-common's name table and the BENv2 parquet), per source.
EXPECTED_SOURCES = {rp.COMMON: 6, rp.GDF_BUILDER: 8, rp.BENV1: 30, rp.BENV2: 24}
EXPECTED_SOURCE_COUNTRIES = {"Finland": 28, "Austria": 23, "Ireland": 6, "Portugal": 4,
                             "Serbia": 4, "Lithuania": 2, "Switzerland": 1}
SEA = {"S2A_MSIL2A_20170613T101031_39_24", "S2B_MSIL2A_20170906T101019_82_41",
       "S2B_MSIL2A_20170906T101019_76_61", "S2B_MSIL2A_20170906T101019_27_42",
       "S2B_MSIL2A_20170930T095019_0_12", "S2B_MSIL2A_20171016T101009_33_62",
       "S2A_MSIL2A_20180419T101031_63_45", "S2B_MSIL2A_20180511T100029_1_31",
       "S2B_MSIL2A_20180511T100029_18_52"}
# Natural Earth (1:110m) against BigEarthNet's country, which is the tile's: T33UUP west of
# the Salzach is Bavaria; 35VLC 66_56 is on the Latvian side; the sea off Åland (not on the
# 1:110m map) is nearest to Sweden.
_BAVARIA = ["26_57", "27_55", "27_56", "27_57", "27_58", "27_59", "33_69", "33_70", "34_69",
            "34_70", "34_71", "35_69", "37_88", "37_89", "37_90", "38_87", "38_88", "38_89",
            "38_90"]
COUNTRY_DISAGREEMENTS = {
    **{f"S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_{xy}": ("Germany", "Austria")
       for xy in _BAVARIA},
    "S2B_MSIL2A_20170927T094019_66_56": ("Latvia", "Lithuania"),
    "S2B_MSIL2A_20171016T101009_33_62": ("Sweden", "Finland"),
    "S2B_MSIL2A_20180511T100029_1_31": ("Sweden", "Finland"),
    "S2B_MSIL2A_20180511T100029_18_52": ("Sweden", "Finland"),
}
SNOW_BRIGHT = {"S2B_MSIL2A_20180417T102019_73_24", "S2B_MSIL2A_20180417T102019_74_79"}


@pytest.fixture(scope="module")
def all_patches() -> list[rp.RealPatch]:
    try:
        return rp.load_patches(ROOT, unique=False)
    except rp.RealPatchDataError as exc:
        pytest.skip(f"real BigEarthNet patches not unpacked ({exc})")


@pytest.fixture(scope="module")
def patches(all_patches: list[rp.RealPatch]) -> list[rp.RealPatch]:
    return rp.load_patches(ROOT)


def test_missing_data_names_the_make_target(tmp_path: Path):
    with pytest.raises(rp.RealPatchDataError, match="make real-patches"):
        rp.load_patches(tmp_path)


def test_unique_patches_per_source(patches, all_patches):
    assert len(all_patches) == 71
    assert len(patches) == 68
    assert collections.Counter(p.source for p in patches) == EXPECTED_SOURCES
    assert len({rp.dedup_key(p) for p in patches}) == 68
    also = {p.id: p.also_in for p in patches if p.also_in}
    assert also == {name: (rp.GDF_BUILDER,) for name in (
        "S2A_MSIL2A_20170617T113321_4_55", "S2A_MSIL2A_20170617T113321_36_85",
        "S2A_MSIL2A_20171221T112501_56_35")}


def test_duplicates_are_the_same_pixels_and_labels(all_patches):
    groups = collections.defaultdict(list)
    for p in all_patches:
        groups[rp.dedup_key(p)].append(p)
    pairs = [g for g in groups.values() if len(g) > 1]
    assert len(pairs) == 3
    for first, second in pairs:
        assert first.labels_clc == second.labels_clc and first.acquired == second.acquired
        for band in rp.BANDS:
            assert np.array_equal(first.dn[band], second.dn[band])


def test_reflectance_of_nine_bands(patches):
    for p in patches:
        r = p.reflectance(rp.TEN_TWENTY)
        assert r.shape == (9, 120, 120) and r.dtype == np.float32
        assert np.isfinite(r).all() and r.min() >= 0.0 and r.max() < 2.0
        b03, b04, b08, b11 = r[1], r[2], r[6], r[7]
        median_b04 = float(np.median(b04))
        ndsi = float(np.median((b03 - b11) / np.maximum(b03 + b11, 1e-4)))
        snow = ndsi > 0.4 and float(np.median(b08)) > 0.1  # bright in NIR: not water
        if p.id in SNOW_BRIGHT:  # Lapland in mid-April, unflagged by BigEarthNet
            assert snow and 0.3 <= median_b04 < 0.5
        else:
            assert 0.0 < median_b04 < 0.3, p.id


def test_reflectance_scale_and_resampling(patches):
    p = patches[0]
    r = p.reflectance(("B04", "B05", "B01"))
    assert np.array_equal(r[0], p.dn["B04"].astype(np.float32) * np.float32(1e-4))
    b05, b01 = (p.dn[b].astype(np.float64) * 1e-4 for b in ("B05", "B01"))
    # Bilinear with pixel edges aligned: 10 m pixel i samples the 20 m grid at i / 2 - 1/4,
    # the 60 m grid at (i + 1/2) / 6 - 1/2; outside the first centre the edge value repeats.
    assert r[1][0, 0] == pytest.approx(b05[0, 0], rel=1e-5)
    expected = (9 * b05[0, 0] + 3 * b05[0, 1] + 3 * b05[1, 0] + b05[1, 1]) / 16
    assert r[1][1, 1] == pytest.approx(expected, rel=1e-5)
    assert r[2][3, 0] == pytest.approx((11 * b01[0, 0] + b01[1, 0]) / 12, rel=1e-5)
    assert r[1].mean() == pytest.approx(b05.mean(), rel=0.01)
    with pytest.raises(KeyError, match="B10"):
        p.reflectance(("B10",))


def test_boa_offset_only_from_baseline_4():
    assert rp.boa_offset(None) == 0.0
    assert rp.boa_offset("02.05") == rp.boa_offset("03.01") == 0.0
    assert rp.boa_offset("04.00") == rp.boa_offset("05.09") == -0.1


def test_all_older_baselines(patches):
    baselines = {p.processing_baseline for p in patches}
    assert baselines == {None, "02.05", "02.06"}
    assert all(rp.boa_offset(b) == 0.0 for b in baselines)


def test_sea_patches(patches):
    sea = {p.id for p in patches if p.sea}
    assert sea == SEA
    for p in patches:
        if p.id in SEA:
            assert p.labels_source == ("Sea and ocean",) and p.labels_clc == {523}
            assert p.labels_ben19 == ("Marine waters",)
        else:
            assert not p.labels_clc <= pe.MARINE


def test_countries_are_what_the_sources_say(patches):
    assert collections.Counter(p.source_country for p in patches) == EXPECTED_SOURCE_COUNTRIES
    disagree = {p.id: (p.country, p.source_country) for p in patches
                if p.country != p.source_country}
    assert disagree == COUNTRY_DISAGREEMENTS
    # Every land centre is on the 1:110m map, and every sea centre but one off it (the
    # generalised coast of the Bothnian Bay takes in S2B_MSIL2A_20170906T101019_27_42).
    offshore = {p.id for p in patches if p.offshore_km > 0}
    assert offshore == SEA - {"S2B_MSIL2A_20170906T101019_27_42"}
    assert max(p.offshore_km for p in patches) < rp.MAX_OFFSHORE_KM


def test_dates_are_what_the_sources_say(patches):
    for p in patches:
        if p.source == rp.BENV2:  # S2A_MSIL2A_20170613T101031_N9999_...
            assert p.acquired.strftime("%Y%m%dT%H%M%S") == p.id.split("_")[2]
        else:  # v1 names: the date, and the time without its leading zero
            date, time = p.id.split("_")[2].split("T")
            assert p.acquired.strftime("%Y%m%d") == date
            if p.source == rp.BENV1:
                assert p.acquired.strftime("%H%M%S") == time.zfill(6)
        assert p.acquired.tzinfo == dt.UTC
        assert p.season == ("summer" if 4 <= p.acquired.month <= 9 else "winter")
    # One JSON disagrees with its own name (T94161 has 61 seconds): the JSON wins.
    odd = next(p for p in patches if p.id == "S2B_MSIL2A_20180204T94161_57_38")
    assert odd.acquired == dt.datetime(2018, 2, 4, 9, 41, 56, tzinfo=dt.UTC)
    assert len({p.date for p in patches}) == 29
    assert collections.Counter(p.season for p in patches) == {"summer": 58, "winter": 10}


def test_json_positions_match_the_tile_grid(patches):
    root = ROOT / rp.COMMON_DIR
    for p in patches:
        if p.source != rp.COMMON:
            continue
        meta = json.loads((root / p.id / f"{p.id}_labels_metadata.json").read_text())
        assert (meta["coordinates"]["ulx"], meta["coordinates"]["uly"]) == (p.ul_x, p.ul_y)
        assert f"_T{p.tile}_" in meta["tile_source"]


def test_benv2_truth_is_19_class_and_v1_truth_is_clc(patches):
    for p in patches:
        if p.source == rp.BENV2:
            assert p.truth_level == "ben19"
            assert p.labels_clc == {c for label in p.labels_ben19 for c in BEN19_CLC[label]}
        else:
            assert p.truth_level == "clc3"
            assert p.labels_clc == {rp.clc_code_of_name(n) for n in p.labels_source}


BEN43 = ["Continuous urban fabric", "Discontinuous urban fabric",
         "Industrial or commercial units", "Road and rail networks and associated land",
         "Port areas", "Airports", "Mineral extraction sites", "Dump sites", "Construction sites",
         "Green urban areas", "Sport and leisure facilities", "Non-irrigated arable land",
         "Permanently irrigated land", "Rice fields", "Vineyards",
         "Fruit trees and berry plantations", "Olive groves", "Pastures",
         "Annual crops associated with permanent crops", "Complex cultivation patterns",
         "Land principally occupied by agriculture, with significant areas of natural "
         "vegetation", "Agro-forestry areas", "Broad-leaved forest", "Coniferous forest",
         "Mixed forest", "Natural grassland", "Moors and heathland", "Sclerophyllous vegetation",
         "Transitional woodland/shrub", "Beaches, dunes, sands", "Bare rock",
         "Sparsely vegetated areas", "Burnt areas", "Inland marshes", "Peatbogs", "Salt marshes",
         "Salines", "Intertidal flats", "Water courses", "Water bodies", "Coastal lagoons",
         "Estuaries", "Sea and ocean"]


def test_bigearthnet_43_names_map_to_clc_codes():
    codes = [rp.clc_code_of_name(name) for name in BEN43]
    assert len(set(codes)) == 43
    assert set(codes) == {c.clc_code for c in clc.clc_classes()} - {335}  # no glaciers
    assert rp.clc_code_of_name("Peatbogs") == 412
    assert rp.clc_code_of_name("Transitional woodland/shrub") == 324
    with pytest.raises(clc.UnknownClassError):
        rp.clc_code_of_name("Moon dust")


def test_benv1_unpickling_runs_nothing():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(rp.RealPatchDataError, match="not allowed"):
        rp._unpickle_patch(pickle.dumps(Evil()), "evil")


def test_baselines_on_the_real_patches(patches):
    always = pe.constant_class_baseline(patches)
    best = pe.best_constant_baseline(patches)
    for level in pe.LEVELS:
        # {parent(311)} is one of the candidate sets: the best set can only do better.
        assert best.f1(level).mean >= always.f1(level).mean
        assert always.f1(level).n == 68
    assert always.f1(2, "sea") == pe.Figure(0.0, 0.0, 0.0, 9)
    assert pe.sea_called_marine(always) == (0, 9)
    marine = pe.evaluate("marine everywhere", {p.id: np.full((120, 120), 523)
                                               for p in patches}, patches)
    assert pe.sea_called_marine(marine) == (9, 9)
    assert marine.f1(2, "sea").mean == 1.0
    lines = pe.report_lines({"marine everywhere": marine, **pe.baselines(patches)})
    assert len([line for line in lines if " n=" in line]) == 3
