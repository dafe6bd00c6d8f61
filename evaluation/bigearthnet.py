"""Land-cover models on every real labelled BigEarthNet patch the registries carry.

``earthsig models eval MODEL --bigearthnet``: the patches of ``samples.real_patches``
(configilm's BENv1 and BENv2 fixtures, bigearthnet-common's and bigearthnet-gdf-builder's
examples, deduplicated; L2A, 120 x 120 px at 10 m), each run through the model as the pipeline
would run it (the MLM's value scaling; top-of-atmosphere emulation for a model trained on L1C;
the model's coastline refinement with the patch's own place), then scored by
``evaluation.patch_scores`` beside the trivial baselines (always 311; the best constant label set,
chosen on the very patches). The table is printed for all patches and, because the path
reflectance of the TOA emulation was chosen on one source (``TUNING_SOURCE``), separately for
that source and for the held-out others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from catalog_schemas import clc
from evaluation import patch_scores
from inference.backends import open_backend
from inference.repository import ResolvedModel
from inference.settings import InferenceSettings
from inference.spec import LANDCOVER
from ingest.clouds.toa_emulation import STANDARD_PATH_BLUE, STANDARD_PATH_RED, path_reflectance
from ingest.outputs.coastline import refine_water
from samples.real_patches import BENV2, PATCH_M, SIDE, RealPatch, load_patches

# The source the TOA emulation's path reflectance was chosen on (docs/models.md).
TUNING_SOURCE = BENV2
BATCH = 8


@dataclass(frozen=True)
class Atmosphere:
    """The path reflectance added to L2A patches for a model trained on L1C."""

    blue: float = STANDARD_PATH_BLUE
    red: float = STANDARD_PATH_RED


def split_by_source(patches: Sequence[RealPatch]) -> tuple[list[RealPatch], list[RealPatch]]:
    """(the tuning source's patches, every other source's): choices are made on the first."""
    return ([p for p in patches if p.source == TUNING_SOURCE],
            [p for p in patches if p.source != TUNING_SOURCE])


def takes_toa(model: ResolvedModel) -> bool:
    return model.spec.input_units.startswith("top-of-atmosphere")


def predict_patches(model: ResolvedModel, settings: InferenceSettings,
                    patches: Sequence[RealPatch], atmosphere: Atmosphere | None = None
                    ) -> dict[str, np.ndarray]:
    """Each patch's CLC level-3 codes [120, 120] (0: no class), as the pipeline would make
    them: whole patches in batches (the network sees the 1.2 km square and nothing around it)."""
    spec = model.spec
    if spec.output_kind != LANDCOVER:
        raise ValueError(f"{spec.ref} is not a land-cover model")
    backend = open_backend(model, settings)
    path = (path_reflectance(spec.input_bands, **vars(atmosphere or Atmosphere()))
            if takes_toa(model) else None)
    grid_to_clc = np.asarray(clc.clc_code_by_grid_code(), np.int32)
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(patches), BATCH):
        chunk = patches[start:start + BATCH]
        batch = np.stack([p.reflectance(spec.input_bands) for p in chunk])
        if path is not None:
            batch += path[None, :, None, None]
        probs = backend.predict(spec.prepare(batch))
        for patch, p in zip(chunk, probs, strict=True):
            grid = spec.raster_values[p.argmax(axis=0)]
            transform = Affine(PATCH_M / SIDE, 0, patch.ul_x, 0, -PATCH_M / SIDE, patch.ul_y)
            refine_water(grid, spec.hyperparameters, CRS.from_string(patch.crs), transform)
            out[patch.id] = grid_to_clc[grid]
    return out


# The grid the path reflectance was chosen from: blue path, and red as a share of it (0.35:
# n = 3.4, near Rayleigh's 4; 0.5: n = 2.3; 0.65: n = 1.4, a hazy sky).
TUNING_BLUES = (0.0, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.10)
TUNING_RED_SHARES = (0.35, 0.5, 0.65)


@dataclass(frozen=True)
class TuningRow:
    atmosphere: Atmosphere
    tuning: patch_scores.Evaluation  # on TUNING_SOURCE: what the choice is made by
    held_out: patch_scores.Evaluation  # on the others: reported, never used to choose


def tune_atmosphere(model: ResolvedModel, settings: InferenceSettings,
                    patches: Sequence[RealPatch] | None = None
                    ) -> tuple[list[TuningRow], TuningRow]:
    """Every grid point scored on the tuning source and on the held-out sources; the chosen
    one: the best level-2 F1 on the tuning source (ties: level-1 F1, then the weaker path)."""
    patches = list(patches) if patches is not None else load_patches()
    tuning, held_out = split_by_source(patches)
    rows = []
    for blue in TUNING_BLUES:
        for share in TUNING_RED_SHARES if blue else (0.5,):
            atmosphere = Atmosphere(blue, round(blue * share, 5))
            pred = predict_patches(model, settings, patches, atmosphere)
            rows.append(TuningRow(
                atmosphere,
                patch_scores.evaluate("tuning", {p.id: pred[p.id] for p in tuning}, tuning),
                patch_scores.evaluate("held out", {p.id: pred[p.id] for p in held_out},
                                    held_out)))
    best = max(rows, key=lambda r: (round(r.tuning.f1(2).mean, 6), round(r.tuning.f1(1).mean, 6),
                                    -r.atmosphere.blue))
    return rows, best


def tuning_report(rows: list[TuningRow], best: TuningRow) -> list[str]:
    lines = [f"path reflectance grid: chosen on {TUNING_SOURCE} "
             f"(n={best.tuning.n}) by level-2 F1; held-out figures (n={best.held_out.n}) "
             "are reported, never used to choose",
             f"{'blue':>6} {'red':>7}  {'tuning L1':>9} {'tuning L2':>9}  {'held L1':>7} "
             f"{'held L2':>7}  sea called marine (held out)"]
    for r in rows:
        k, n = patch_scores.sea_called_marine(r.held_out)
        mark = "  <- chosen" if r is best else ""
        lines.append(f"{r.atmosphere.blue:6.3f} {r.atmosphere.red:7.4f}  "
                     f"{r.tuning.f1(1).mean:9.3f} {r.tuning.f1(2).mean:9.3f}  "
                     f"{r.held_out.f1(1).mean:7.3f} {r.held_out.f1(2).mean:7.3f}  "
                     f"{k} of {n}{mark}")
    return lines


# Forest type: patches labelled with exactly one of these (and not mixed forest, 313), where
# the model finds forest on at least FOUND_SHARE of the patch: is its commonest forest type
# the labelled one?
FOREST_TYPES = (311, 312)
MIXED_FOREST = 313
FOREST_CODES = (311, 312, 313)
TUNING_THRESHOLDS = (0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12, 0.13, 0.14)


def forest_type(predictions: dict[str, np.ndarray], patches: Sequence[RealPatch]
                ) -> tuple[int, int]:
    """(patches whose commonest predicted forest type is the labelled one, patches scored)."""
    right = scored = 0
    for patch in patches:
        labelled = [c for c in FOREST_TYPES if c in patch.labels_clc]
        if len(labelled) != 1 or MIXED_FOREST in patch.labels_clc:
            continue
        classes = predictions[patch.id]
        classified = classes[classes > 0]
        forest = classified[np.isin(classified, FOREST_CODES)]
        if classified.size == 0 or forest.size < patch_scores.FOUND_SHARE * classified.size:
            continue
        codes, counts = np.unique(forest, return_counts=True)
        scored += 1
        right += int(codes[counts.argmax()] == labelled[0])
    return right, scored


def forest_type_lines(predictions: dict[str, dict[str, np.ndarray]],
                      patches: Sequence[RealPatch]) -> list[str]:
    lines = []
    for name, by_id in predictions.items():
        right, scored = forest_type(by_id, patches)
        broad = forest_type({p.id: np.where(np.isin(by_id[p.id], FOREST_CODES), 311,
                                            by_id[p.id]) for p in patches}, patches)
        lines.append(f"{name}: forest type right in {right} of {scored} patches labelled "
                     f"broad-leaved or coniferous with forest found (calling all its forest "
                     f"broad-leaved: {broad[0]} of {broad[1]})")
    return lines


@dataclass(frozen=True)
class ForestRow:
    threshold: float | None
    tuning: tuple[int, int]
    held_out: tuple[int, int]
    tuning_l2: float
    held_out_l2: float


def tune_forest(settings: InferenceSettings, patches: Sequence[RealPatch] | None = None,
                work: Path | None = None) -> tuple[list[ForestRow], ForestRow]:
    """clc-dynamicworld with each SWIR-1 threshold of the forest split (and none), scored on
    the tuning source and the held-out ones; chosen: the most forest types right on the tuning
    source (ties: the best level-2 F1 there, then the middle of the tied thresholds)."""
    import tempfile

    from inference import dynamicworld as dw

    patches = list(patches) if patches is not None else load_patches()
    tuning, held_out = split_by_source(patches)
    rows = []
    with tempfile.TemporaryDirectory(prefix="earthsig-forest-", dir=work) as tmp:
        for threshold in (None, *TUNING_THRESHOLDS):
            split = dw.ForestSplit(threshold=threshold) if threshold is not None else None
            spec, graph = dw.build(split)
            path = Path(tmp) / f"{threshold}.onnx"
            path.write_bytes(graph.SerializeToString())
            pred = predict_patches(ResolvedModel(spec, path), settings, patches)
            l2 = {name: patch_scores.evaluate(name, {p.id: pred[p.id] for p in group}, group
                                            ).f1(2).mean
                  for name, group in (("tuning", tuning), ("held out", held_out))}
            rows.append(ForestRow(threshold, forest_type(pred, tuning),
                                  forest_type(pred, held_out), l2["tuning"], l2["held out"]))
    top = max((r.tuning[0], round(r.tuning_l2, 6)) for r in rows)
    tied = [r for r in rows if (r.tuning[0], round(r.tuning_l2, 6)) == top]
    return rows, tied[(len(tied) - 1) // 2]


def forest_report(rows: list[ForestRow], best: ForestRow) -> list[str]:
    lines = [f"forest split (SWIR-1 B11 below the threshold: coniferous): chosen on "
             f"{TUNING_SOURCE} by forest types right; held-out figures are reported, never "
             "used to choose",
             f"{'B11 <':>6}  {'tuning right':>12} {'tuning L2':>9}  {'held right':>10} "
             f"{'held L2':>7}"]
    for r in rows:
        mark = "  <- chosen" if r is best else ""
        t = "none" if r.threshold is None else f"{r.threshold:.2f}"
        lines.append(f"{t:>6}  {r.tuning[0]:>6} of {r.tuning[1]:<3} {r.tuning_l2:9.3f}  "
                     f"{r.held_out[0]:>4} of {r.held_out[1]:<3} {r.held_out_l2:7.3f}{mark}")
    return lines


def evaluate_models(models: Sequence[ResolvedModel], settings: InferenceSettings,
                    patches: Sequence[RealPatch] | None = None,
                    atmosphere: Atmosphere | None = None
                    ) -> tuple[list[RealPatch], dict[str, dict[str, np.ndarray]]]:
    """(the patches, each model's predictions by patch id)."""
    patches = list(patches) if patches is not None else load_patches()
    predictions = {m.spec.ref: predict_patches(m, settings, patches, atmosphere)
                   for m in models}
    return patches, predictions


def report(patches: Sequence[RealPatch], predictions: dict[str, dict[str, np.ndarray]],
           *, by_source: bool = True) -> list[str]:
    """The tables: all patches, then the tuning source and the held-out sources apart."""
    groups = [("all patches", list(patches))]
    if by_source:
        tuning, held_out = split_by_source(patches)
        groups += [(f"{TUNING_SOURCE} (the TOA path reflectance and the forest split were "
                    "chosen here)", tuning),
                   (f"held out: every source but {TUNING_SOURCE}", held_out)]
    lines = [_summary(patches)]
    for title, group in groups:
        if not group:
            continue
        ids = {p.id for p in group}
        results = {name: patch_scores.evaluate(name, {k: v for k, v in by_id.items() if k in ids},
                                             group)
                   for name, by_id in predictions.items()}
        results.update(patch_scores.baselines(group))
        lines += ["", f"== {title}: {len(group)} patches, {sum(p.sea for p in group)} sea"]
        lines += patch_scores.report_lines(results)
        lines += forest_type_lines(predictions, group)
    return lines


def _summary(patches: Sequence[RealPatch]) -> str:
    sources: dict[str, int] = {}
    for p in patches:
        sources[p.source] = sources.get(p.source, 0) + 1
    countries = sorted({p.country for p in patches})
    dates = sorted({p.acquired.date() for p in patches})
    return (f"{len(patches)} real BigEarthNet patches (L2A, 1.2 km, labels = CLC classes "
            f"present): " + ", ".join(f"{k} {v}" for k, v in sources.items())
            + f"; {len(countries)} countries, {len(dates)} dates "
            f"({dates[0]} to {dates[-1]})")
