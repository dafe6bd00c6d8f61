"""Model-independent scoring of land-cover predictions against image-level patch labels.

The truth of a BigEarthNet patch is a label *set* (the CLC classes present somewhere in its
1200 m square), so a prediction is scored as a set too, per patch, at CLC level 1 and level 2:

- predicted label set at level k: the level-k classes that cover at least ``FOUND_SHARE`` (10 %)
  of the patch's classified pixels (pixels 0 = no class are left out). Pixels are first summed
  into their level-k parent, then thresholded: 6 % broad-leaved and 6 % mixed forest make 12 %
  "Forests" (31), found at level 2;
- truth label set at level k: the level-k parents of the patch's CLC level-3 codes;
- example-based F1: ``2 |P & T| / (|P| + |T|)`` (1 when both sets are empty, 0 when only one is);
- dominant-class hit: the most frequent predicted level-3 class (ties: the lowest code) has its
  level-k parent among the truth's level-k classes.

Level codes are the CLC code's leading digits: 312 -> 31 (level 2) -> 3 (level 1), the same
grouping as the legend's level-1/level-2 names in :mod:`catalog_schemas.clc`.

Truth given as BigEarthNet 19-class groups (BigEarthNet v2 patches): the patch carries every
CLC code of each of its groups (``RealPatch.labels_clc``), and the rule above makes the truth at
level k the parents of *all* of them. No group spans two level-1 classes, so level 1 is exact.
Two groups span two level-2 classes: "Permanent crops" (221-223 -> 22, 241 -> 24) and "Natural
grassland and sparsely vegetated areas" (321 -> 32, 333 -> 33). A patch with one of them gets
both level-2 classes though it may hold only one: its F1 is *deflated* when a model finds just
the class really there (the other counts as missed) and *inflated* when a model predicts the
absent one (counted as found); its hit can only be inflated (two classes to hit). None of the
24 BigEarthNet v2 patches in the package fixtures carries either group today.

Aggregates: mean F1 and hit rate with a percentile bootstrap interval (``BOOTSTRAP_RESAMPLES``
resamples of the patches, seed ``BOOTSTRAP_SEED``, numpy only), overall and for land / sea and
summer / winter patches, each with its patch count n.

Baselines, scored by the same functions: the constant answer "always 311" (every pixel
broad-leaved forest) and, per level, the best constant answer *chosen on the set*: the label set
(any subset of the level-k classes seen in the truths; searched exhaustively, ties to the
smallest set, then the lowest codes) with the highest mean F1 over the very patches it is scored
on, with as its dominant class the level-k class found in most truths. It is an optimistic
bound for any constant answer, not an honest held-out score, and reports mark it so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np

from catalog_schemas import clc

FOUND_SHARE = 0.10
LEVELS = (1, 2)
MARINE = frozenset({521, 522, 523})
BROAD_LEAVED = 311
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20170613
CONFIDENCE = 0.95
SUBSETS = ("all", "land", "sea", "summer", "winter")
MAX_EXHAUSTIVE_CLASSES = 16  # 2**16 candidate sets; CLC has 15 level-2 classes
CHOSEN_ON_SET = "chosen on the set"


class LabelledPatch(Protocol):
    """What scoring needs of a patch (``samples.real_patches.RealPatch`` has it)."""

    @property
    def id(self) -> str: ...

    @property
    def labels_clc(self) -> frozenset[int]: ...

    @property
    def sea(self) -> bool: ...

    @property
    def season(self) -> str: ...


@dataclass(frozen=True)
class PatchTruth:
    """A hand-made :class:`LabelledPatch`."""

    id: str
    labels_clc: frozenset[int]
    sea: bool = False
    season: str = "summer"


@dataclass(frozen=True)
class PatchScore:
    patch_id: str
    level: int
    predicted: frozenset[int]  # level-k classes
    truth: frozenset[int]  # level-k classes
    dominant_clc: int | None  # most frequent predicted level-3 class; None: no class / no grid
    dominant: int | None  # the level-k class the hit is judged on
    f1: float
    hit: bool
    sea: bool
    season: str


@dataclass(frozen=True)
class Figure:
    """A mean with its bootstrap interval over n patches (NaN when n == 0)."""

    mean: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Evaluation:
    name: str
    scores: Mapping[int, tuple[PatchScore, ...]]  # by level
    chosen_on_set: bool = False
    # For a constant answer: by level, (label set, dominant class).
    answer: Mapping[int, tuple[frozenset[int], int]] | None = None

    def patch_scores(self, level: int, subset: str = "all") -> tuple[PatchScore, ...]:
        if subset not in SUBSETS:
            raise ValueError(f"subset {subset!r} is not one of {SUBSETS}")
        return tuple(s for s in self.scores[level] if _in_subset(s, subset))

    def f1(self, level: int, subset: str = "all") -> Figure:
        """Mean example-based F1 at ``level`` over ``subset``, with its interval."""
        return bootstrap_mean([s.f1 for s in self.patch_scores(level, subset)])

    def hit_rate(self, level: int, subset: str = "all") -> Figure:
        """Share of dominant-class hits at ``level`` over ``subset``, with its interval."""
        return bootstrap_mean([float(s.hit) for s in self.patch_scores(level, subset)])

    @property
    def n(self) -> int:
        return len(self.scores[LEVELS[0]])


def _in_subset(score: PatchScore, subset: str) -> bool:
    return {"all": True, "land": not score.sea, "sea": score.sea,
            "summer": score.season == "summer", "winter": score.season == "winter"}[subset]


# --- classes and levels -------------------------------------------------------------------

@cache
def _legend_codes() -> np.ndarray:
    return np.array(sorted(c.clc_code for c in clc.clc_classes()), dtype=np.int64)


def parent(code: int, level: int) -> int:
    """The level-``level`` class of CLC level-3 ``code``: 312 -> 31 (2) -> 3 (1)."""
    clc.by_clc_code(code)  # unknown codes fail loudly
    if level not in (1, 2, 3):
        raise ValueError(f"CLC has levels 1-3, not {level}")
    return int(code) // 10 ** (3 - level)


def truth_set(labels_clc: Iterable[int], level: int) -> frozenset[int]:
    """The level-k classes of a patch's CLC level-3 codes (for 19-class truth: of every code
    of its groups, see the module docstring)."""
    return frozenset(parent(code, level) for code in labels_clc)


def _checked_codes(classes: np.ndarray) -> np.ndarray:
    """The classified pixels (CLC codes, 0 dropped), checked against the legend."""
    values = np.asarray(classes)
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"class grid must be integer CLC codes, not {values.dtype}")
    codes = values[values != 0].astype(np.int64, copy=False)
    unknown = np.setdiff1d(np.unique(codes), _legend_codes())
    if unknown.size:
        raise ValueError(f"not CLC level-3 codes: {unknown[:10].tolist()} (grid codes 1-44 "
                         "must be mapped to CLC codes first)")
    return codes


def predicted_set(classes: np.ndarray, level: int, share: float = FOUND_SHARE) -> frozenset[int]:
    """Level-k classes covering at least ``share`` of the classified pixels of ``classes``."""
    codes = _checked_codes(classes)
    if codes.size == 0:
        return frozenset()
    parents, counts = np.unique(codes // 10 ** (3 - level), return_counts=True)
    # counts / total >= share, with room for rounding: 0.28 * 25 is 7.000000000000001.
    found = counts >= share * codes.size - 1e-9 * codes.size
    return frozenset(int(p) for p in parents[found])


def dominant_class(classes: np.ndarray) -> int | None:
    """The most frequent CLC level-3 code of ``classes`` (ties: the lowest), None if none."""
    codes = _checked_codes(classes)
    if codes.size == 0:
        return None
    values, counts = np.unique(codes, return_counts=True)
    return int(values[np.argmax(counts)])


def example_f1(predicted: frozenset[int], truth: frozenset[int]) -> float:
    """Example-based F1 of one patch: 2|P & T| / (|P| + |T|); 1.0 when both are empty."""
    if not predicted and not truth:
        return 1.0
    return 2 * len(predicted & truth) / (len(predicted) + len(truth))


def score_patch(classes: np.ndarray, patch: LabelledPatch, level: int) -> PatchScore:
    """One patch's prediction (a CLC level-3 class grid) against its labels at ``level``."""
    predicted = predicted_set(classes, level)
    truth = truth_set(patch.labels_clc, level)
    dominant_clc = dominant_class(classes)
    dominant = None if dominant_clc is None else parent(dominant_clc, level)
    return PatchScore(patch.id, level, predicted, truth, dominant_clc, dominant,
                      example_f1(predicted, truth), dominant is not None and dominant in truth,
                      patch.sea, patch.season)


def evaluate(name: str, predictions: Mapping[str, np.ndarray],
             patches: Sequence[LabelledPatch]) -> Evaluation:
    """Score ``predictions`` (patch id -> CLC level-3 class grid, 0 = no class) at levels 1
    and 2. Every patch needs a prediction; predictions for other ids are ignored."""
    missing = [p.id for p in patches if p.id not in predictions]
    if missing:
        raise ValueError(f"{name}: no prediction for {len(missing)} patches ({missing[:3]} ...)")
    _check_unique(patches)
    return Evaluation(name, {level: tuple(score_patch(predictions[p.id], p, level)
                                          for p in patches) for level in LEVELS})


def _check_unique(patches: Sequence[LabelledPatch]) -> None:
    ids = [p.id for p in patches]
    if len(set(ids)) != len(ids):
        raise ValueError("patch ids must be unique")


# --- aggregates ---------------------------------------------------------------------------

def bootstrap_mean(values: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES,
                   seed: int = BOOTSTRAP_SEED, confidence: float = CONFIDENCE) -> Figure:
    """The mean of ``values`` and its percentile bootstrap interval (patches resampled with
    replacement ``resamples`` times from a generator seeded with ``seed``: deterministic)."""
    data = np.asarray(values, dtype=np.float64)
    n = int(data.size)
    if n == 0:
        return Figure(math.nan, math.nan, math.nan, 0)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Figure(float(data.mean()), float(low), float(high), n)


# --- baselines ----------------------------------------------------------------------------

def constant_class_baseline(patches: Sequence[LabelledPatch], code: int = BROAD_LEAVED
                            ) -> Evaluation:
    """Every pixel of every patch class ``code`` ("always 311"), scored by :func:`evaluate`."""
    grid = np.full((1, 1), code, dtype=np.int32)
    name = f"baseline: always {code} ({clc.by_clc_code(code).name})"
    return evaluate(name, {p.id: grid for p in patches}, patches)


def best_constant_set(patches: Sequence[LabelledPatch], level: int
                      ) -> tuple[frozenset[int], float]:
    """The label set with the highest mean F1 over ``patches`` at ``level`` and that mean.
    Exhaustive over every subset (the empty set included) of the level-k classes seen in the
    truths; ties go to the smallest set, then the lowest codes."""
    if not patches:
        raise ValueError("no patches")
    truths = [truth_set(p.labels_clc, level) for p in patches]
    classes = sorted(set().union(*truths))
    if len(classes) > MAX_EXHAUSTIVE_CLASSES:
        raise ValueError(f"{len(classes)} level-{level} classes: too many for exhaustive search")
    m = len(classes)
    masks = np.arange(2 ** m, dtype=np.int64)
    members = ((masks[:, None] >> np.arange(m)) & 1).astype(np.int64)  # (2**m, m)
    truth = np.array([[c in t for c in classes] for t in truths], dtype=np.int64)  # (n, m)
    both = members @ truth.T  # |P & T|, (2**m, n)
    sizes = members.sum(axis=1)[:, None] + truth.sum(axis=1)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(sizes == 0, 1.0, 2 * both / sizes)
    mean = f1.mean(axis=1)
    best = mean.max()
    ties = np.flatnonzero(mean >= best - 1e-12)
    chosen = min(ties, key=lambda i: (int(members[i].sum()),
                                      [c for c, on in zip(classes, members[i], strict=True)
                                       if on]))
    answer = frozenset(c for c, on in zip(classes, members[chosen], strict=True) if on)
    return answer, float(mean[chosen])


def most_common_class(patches: Sequence[LabelledPatch], level: int) -> int:
    """The level-k class in the most truths (ties: the lowest): the best constant dominant
    class for the hit rate."""
    counts: dict[int, int] = {}
    for p in patches:
        for c in truth_set(p.labels_clc, level):
            counts[c] = counts.get(c, 0) + 1
    if not counts:
        raise ValueError("no labelled patches")
    return min(counts, key=lambda c: (-counts[c], c))


def best_constant_baseline(patches: Sequence[LabelledPatch]) -> Evaluation:
    """The best constant answer per level, chosen on ``patches`` themselves (optimistic)."""
    _check_unique(patches)
    scores, answer = {}, {}
    for level in LEVELS:
        labels, _ = best_constant_set(patches, level)
        dominant = most_common_class(patches, level)
        answer[level] = (labels, dominant)
        scores[level] = tuple(
            PatchScore(p.id, level, labels, truth, None, dominant, example_f1(labels, truth),
                       dominant in truth, p.sea, p.season)
            for p in patches for truth in [truth_set(p.labels_clc, level)])
    return Evaluation(f"baseline: best constant set ({CHOSEN_ON_SET})", scores,
                      chosen_on_set=True, answer=answer)


def baselines(patches: Sequence[LabelledPatch]) -> dict[str, Evaluation]:
    """Both baselines, by name."""
    found = [constant_class_baseline(patches), best_constant_baseline(patches)]
    return {e.name: e for e in found}


# --- reports ------------------------------------------------------------------------------

def sea_called_marine(evaluation: Evaluation) -> tuple[int, int]:
    """(k, n): of the n sea patches, k have a marine (521/522/523) dominant predicted class.
    A constant label-set answer has no level-3 dominant class and calls none marine."""
    sea = evaluation.patch_scores(LEVELS[0], "sea")
    return sum(s.dominant_clc in MARINE for s in sea), len(sea)


def sea_marine_line(evaluation: Evaluation) -> str:
    k, n = sea_called_marine(evaluation)
    return f"sea patches called marine: {k} of {n}"


def _cell(figure: Figure, *, with_n: bool = False) -> str:
    text = "-" if figure.n == 0 else f"{figure.mean:.2f} [{figure.low:.2f},{figure.high:.2f}]"
    return f"{text} n={figure.n}" if with_n else text


def report_lines(results: dict[str, Evaluation]) -> list[str]:
    """One table: a row per model or baseline; F1 and hit rate at CLC levels 1 and 2 with 95 %
    bootstrap intervals, level-2 F1 on land / sea / summer / winter patches, and n."""
    header = ["model", "L1 F1 [95% CI]", "L2 F1 [95% CI]", "L1 hit", "L2 hit", "land F1 L2",
              "sea F1 L2", "summer F1 L2", "winter F1 L2", "n"]
    rows = []
    for name, ev in results.items():
        row = [f"{name} *" if ev.chosen_on_set else name, _cell(ev.f1(1)), _cell(ev.f1(2)),
               _cell(ev.hit_rate(1)), _cell(ev.hit_rate(2))]
        row += [_cell(ev.f1(2, subset), with_n=True)
                for subset in ("land", "sea", "summer", "winter")]
        rows.append([*row, str(ev.n)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"Patch-level scores: label found = >= {100 * FOUND_SHARE:.0f} % of a patch's "
             f"classified pixels; [{100 * CONFIDENCE:.0f} % bootstrap interval, "
             f"{BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}]"]
    lines += ["  ".join(f"{c:<{w}}" for c, w in zip(r, widths, strict=True)).rstrip()
              for r in [header, *rows]]
    for name, ev in results.items():
        if ev.chosen_on_set and ev.answer:
            sets = "; ".join(f"L{level} {{{', '.join(map(str, sorted(labels)))}}}, "
                             f"dominant {dominant}"
                             for level, (labels, dominant) in sorted(ev.answer.items()))
            lines.append(f"* {name}: {sets} - {CHOSEN_ON_SET}: the best constant answer for "
                         "these very patches, an optimistic bound, not a model")
    for name, ev in results.items():
        if not ev.chosen_on_set:
            lines.append(f"{name}: {sea_marine_line(ev)}")
    return lines
