"""A land-cover model against the real BigEarthNet v2 patches of T33UUP (patch-level truth).

The product is the one ``ingest.samples.bigearthnet_product`` stitches from the configilm
fixture (20 real L2A patches, 2017-06-13). Its only truth is each patch's image-level labels
(BigEarthNet's 19 classes, each a group of CLC level-3 codes), so the scores are per patch:

- *dominant hit*: the most frequent predicted class of the patch is among its labels' codes;
- *labelled share*: the share of the patch's classified pixels whose class is among them;
- *per-label recall*: for each BigEarthNet label, the share of the patches carrying it in which
  the model finds it, "found" meaning its CLC codes cover at least ``FOUND_SHARE`` of the
  patch's classified pixels (a label is never a pixel count: 10 % is the floor chosen here).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine

from catalog_schemas import clc
from inference.repository import ResolvedModel
from inference.run import run_model
from inference.settings import InferenceSettings
from inference.spec import LANDCOVER
from ingest.readers import open_product
from ingest.samples.bigearthnet import BEN19_CLC, DEFAULT_ROOT, Patch
from ingest.samples.bigearthnet_product import (
    PatchScore,
    agreement,
    build_product,
    patch_window,
    region_patches,
)

FOUND_SHARE = 0.10


@dataclass(frozen=True)
class LabelRecall:
    label: str
    patches: int  # patches carrying the label
    found: int  # of those, patches where the label's codes cover >= FOUND_SHARE


@dataclass(frozen=True)
class PatchLevelEvaluation:
    model: str
    scores: list[PatchScore]
    recall: list[LabelRecall]

    @property
    def hits(self) -> int:
        return sum(s.hit for s in self.scores)

    @property
    def mean_labelled_share(self) -> float:
        return float(np.mean([s.labelled_share for s in self.scores]))


def evaluate_bigearthnet(model: ResolvedModel, settings: InferenceSettings, *,
                         root: Path = DEFAULT_ROOT) -> PatchLevelEvaluation:
    """Run ``model`` over the stitched product and score it against the patch labels."""
    if model.spec.output_kind != LANDCOVER:
        raise ValueError(f"{model.spec.ref} is not a land-cover model")
    patches = region_patches(root)
    with tempfile.TemporaryDirectory(prefix="earthsig-ben-") as tmp:
        product = build_product(Path(tmp), root=root)
        with open_product(str(product), list(model.spec.input_bands)) as reader:
            grid = reader.grid
            classes = run_model(reader.read, grid.height, grid.width, model, settings).classes
            transform = grid.transform
    return PatchLevelEvaluation(model.spec.ref, agreement(classes, transform, patches),
                                label_recall(classes, transform, patches))


def label_recall(classes: np.ndarray, transform: Affine, patches: list[Patch]
                 ) -> list[LabelRecall]:
    lookup = np.zeros(256, dtype=np.int32)  # CLC level-3 code by grid code; 0 stays 0
    for item in clc.clc_classes():
        lookup[item.grid_code] = item.clc_code
    counts: dict[str, list[int]] = {}
    for patch in patches:
        codes = classes[patch_window(patch, transform)]
        as_clc = lookup[codes[codes > 0]]
        for label in patch.labels:
            share = float(np.isin(as_clc, BEN19_CLC[label]).mean()) if as_clc.size else 0.0
            entry = counts.setdefault(label, [0, 0])
            entry[0] += 1
            entry[1] += share >= FOUND_SHARE
    return [LabelRecall(label, n, found) for label, (n, found) in sorted(counts.items())]


def report(result: PatchLevelEvaluation) -> list[str]:
    """The table ``earthsig models eval --bigearthnet`` prints."""
    n = len(result.scores)
    lines = [f"{result.model} on the {n} real BigEarthNet v2 patches of T33UUP, 2017-06-13",
             f"dominant class among the labels: {result.hits} / {n}   "
             f"mean labelled share: {result.mean_labelled_share:.3f}",
             f"{'patch':28} {'dominant':>8} {'hit':>4} {'share':>6}"]
    for s in result.scores:
        lines.append(f"{s.patch_id[-28:]:28} {s.dominant_clc or '-':>8} "
                     f"{'yes' if s.hit else 'no':>4} {s.labelled_share:6.3f}")
    lines.append(f"per-label recall (found: >= {100 * FOUND_SHARE:.0f} % of the patch's pixels)")
    for r in result.recall:
        lines.append(f"  {r.label[:50]:50} {r.found:3} / {r.patches:<3} "
                     f"{100 * r.found / r.patches:5.1f} %")
    return lines
