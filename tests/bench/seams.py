"""``python -m tests.bench.seams``: the real land-cover model's receptive field, the seams of
windowed inference against one whole-image run, and the windowed run's speed per window size
and overlap, from memory (issue 20).

- receptive field: one input pixel changed by +0.1 reflectance in every band; how far from it
  the output probabilities move (> 1e-4, > 1e-2) and the arg-max changes.
- seams: a square scene classified in one run of the model (the whole image is one window),
  then cut into windows of each size and overlap (centre blend): agreement of the classes
  overall and within ``EDGE`` px of the cuts between the windows' owned parts (the seams).
- speed: ``segment`` over an in-memory image of exactly 2 x 2 windows (model, stitching),
  configurations interleaved, best of ``--rounds``; s/tile = seconds per window x the windows
  a 10980 px tile takes at that size and overlap (the overlap's waste is in the count).
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from inference.backends import OnnxRuntimeBackend
from inference.repository import ModelRepository, ResolvedModel
from inference.stitch import axis_layout
from inference.windows import segment

TILE_PX = 10980
EDGE = 16
REAL_SCENE = Path(".earthsig/testdata/s2cloudless/input_arrays.npz")


def _model(name: str, root: Path) -> ResolvedModel:
    repo = ModelRepository(root)
    repo.build_references([name], only_missing=True)
    return repo.resolve(name)


def _classes(model: ResolvedModel, backend: OnnxRuntimeBackend, image: np.ndarray,
             size: int, overlap: int, batch: int = 4) -> np.ndarray:
    _, h, w = image.shape
    valid = np.ones((h, w), bool)

    def read(win: Window) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = win.toslices()
        return image[:, rows, cols], valid[rows, cols]

    return segment(read, h, w, backend, window_size=size, overlap=overlap, batch_size=batch,
                   prepare=model.spec.prepare, values=model.spec.raster_values).classes


def _probs(model: ResolvedModel, backend: OnnxRuntimeBackend, image: np.ndarray) -> np.ndarray:
    batch = image[None]
    return backend.predict(model.spec.prepare(batch))[0]


def receptive_field(model: ResolvedModel, backend: OnnxRuntimeBackend, image: np.ndarray
                    ) -> None:
    _, h, w = image.shape
    base = _probs(model, backend, image)
    poked = image.copy()
    poked[:, h // 2, w // 2] += 0.1
    diff = np.abs(_probs(model, backend, poked) - base).max(axis=0)
    flips = base.argmax(axis=0) != _probs(model, backend, poked).argmax(axis=0)
    rows, cols = np.indices(diff.shape)
    dist = np.maximum(np.abs(rows - h // 2), np.abs(cols - w // 2))
    for name, where in (("prob > 1e-4", diff > 1e-4), ("prob > 1e-2", diff > 1e-2),
                        ("class flips", flips)):
        print(f"| {name} | {int(dist[where].max()) if where.any() else 0} |")


def seam_mask(length: int, size: int, overlap: int) -> np.ndarray:
    """Pixels within EDGE of a cut between owned parts, along one axis."""
    near = np.zeros(length, bool)
    for axis in axis_layout(length, size, overlap)[1:]:
        near[max(axis.own_start - EDGE, 0):axis.own_start + EDGE] = True
    return near


def seams(model: ResolvedModel, backend: OnnxRuntimeBackend, image: np.ndarray,
          configs: list[tuple[int, int]], label: str) -> None:
    _, h, w = image.shape
    assert h == w, "a square scene: the whole-image run is one unpadded window"
    whole = _classes(model, backend, image, h, 0, batch=1)
    for size, overlap in configs:
        got = _classes(model, backend, image, size, overlap)
        near = seam_mask(h, size, overlap)[:, None] | seam_mask(w, size, overlap)[None, :]
        same = got == whole
        print(f"| {label} {h} px | {size} | {overlap} | {100 * same.mean():.3f} | "
              f"{100 * same[near].mean():.3f} | {int((~same).sum())} |")


def tile_windows(size: int, overlap: int) -> int:
    return len(axis_layout(TILE_PX, size, overlap)) ** 2


def speed(model: ResolvedModel, configs: list[tuple[int, int, int]], threads: list[int],
          rounds: int) -> None:
    rng = np.random.default_rng(0)
    backends = {t: OnnxRuntimeBackend(model.onnx_path, threads=t) for t in threads}
    best: dict[tuple[int, int, int, int], float] = {}
    for _ in range(rounds):
        for t in threads:
            for size, overlap, batch in configs:
                n = 2 * size - overlap
                image = rng.uniform(0.02, 0.4, (len(model.spec.input_bands), n, n)
                                    ).astype(np.float32)
                t0 = time.perf_counter()
                _classes(model, backends[t], image, size, overlap, batch)
                key = (t, size, overlap, batch)
                best[key] = min(best.get(key, np.inf), (time.perf_counter() - t0) / 4)
    print("| threads | window | overlap | batch | s/window | Mpx/s (window px) | "
          "windows/tile | waste | s/tile |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (t, size, overlap, batch), s in best.items():
        n = tile_windows(size, overlap)
        waste = n * size * size / TILE_PX ** 2
        print(f"| {t} | {size} | {overlap} | {batch} | {s:.2f} | {size * size / s / 1e6:.2f} | "
              f"{n} | {waste:.2f} | {n * s:.0f} |")


def generated_scene(size: int, model: ResolvedModel) -> np.ndarray:
    """A generated L1C scene's TOA reflectance in the model's bands (no clouds)."""
    from samples import generate_scene

    scene = generate_scene("T32TLS", date(2024, 7, 1), size, seed=11, cloud_cover=0)
    bands = []
    for band in model.spec.input_bands:
        r = scene.reflectance(band, toa=True)
        factor = -(-size // r.shape[0])  # 20 m bands: nearest onto the 10 m grid
        bands.append(np.kron(r, np.ones((factor, factor), np.float32))[:size, :size])
    return np.stack(bands).astype(np.float32)


def real_scene(model: ResolvedModel) -> np.ndarray:
    from inference.s2cloudless import L1C_ORDER

    with np.load(REAL_SCENE) as data:
        image = data["s2_im"][0]
    index = [L1C_ORDER.index(b) for b in model.spec.input_bands]
    return np.moveaxis(image[..., index], -1, 0)[:, :512, :512].astype(np.float32)


def skipped_share(mask: np.ndarray, size: int, overlap: int) -> tuple[int, int]:
    """(windows wholly under cloud or nodata, windows) of ``mask``'s layout."""
    from catalog_schemas import cloudmask as cm

    hidden = np.isin(mask, (*cm.OBSCURED, cm.NODATA))
    rows, cols = axis_layout(mask.shape[0], size, overlap), axis_layout(mask.shape[1], size,
                                                                        overlap)
    skipped = sum(bool(hidden[r.pos:r.pos + r.length, c.pos:c.pos + c.length].all())
                  for r in rows for c in cols)
    return skipped, len(rows) * len(cols)


def skips(size: int, covers: list[float]) -> None:
    """The share of windows a cloud mask lets the chain skip: s2cloudless's real L1C scene
    (our mask of it, as ``tests/ingest/test_cloudmask_l1c.py`` makes it), and generated
    scenes' cloud truth (cloud, thin cloud, shadow) at several cloud covers."""
    from catalog_schemas import cloudmask as cm
    from inference import s2cloudless
    from ingest.clouds import cloudmask_toa
    from samples import generate_scene

    with np.load(REAL_SCENE) as data:
        image = data["s2_im"][0]
    toa = np.moveaxis(image[..., [s2cloudless.L1C_ORDER.index(b)
                                  for b in cloudmask_toa.BANDS]], -1, 0).astype(np.float32)
    h, w = toa.shape[1:]
    coarse = cloudmask_toa.coarse_from_arrays(toa, np.ones((h, w), bool), 1)
    real = cloudmask_toa.fine_mask(coarse, None, 10, h, w)
    print("| scene | cloud, thin cloud, shadow % | window | overlap | skipped | windows | "
          "share % |\n|---|---:|---:|---:|---:|---:|---:|")
    masks = [(f"real L1C {h} x {w}", real)]
    for cover in covers:
        scene = generate_scene("T32TLS", date(2024, 7, 1), size, seed=11, cloud_cover=cover)
        masks.append((f"generated {size} px, cloud_cover {cover:g}", scene.cloudmask()))
    for name, mask in masks:
        obscured = np.isin(mask, cm.OBSCURED).mean() * 100
        for window, overlap in ((256, 32), (512, 32)):
            k, n = skipped_share(mask, window, overlap)
            print(f"| {name} | {obscured:.1f} | {window} | {overlap} | {k} | {n} | "
                  f"{100 * k / n:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="clc-dynamicworld")
    parser.add_argument("--models", type=Path, default=Path(".earthsig/models"))
    parser.add_argument("--size", type=int, default=1536, help="generated scene, px")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=("field", "seams", "speed", "skips"))
    args = parser.parse_args()
    model = _model(args.model, args.models)
    backend = OnnxRuntimeBackend(model.onnx_path, threads=args.threads)
    if args.only in (None, "field"):
        print("\n| receptive field | px from the changed pixel |\n|---|---:|")
        receptive_field(model, backend, real_scene(model))
    if args.only in (None, "seams"):
        print("\n| scene | window | overlap | agreement % | at seams (±16 px) % | "
              "pixels differing |\n|---|---:|---:|---:|---:|---:|")
        seams(model, backend, real_scene(model), [(256, 0), (256, 16), (256, 32)], "real")
        seams(model, backend, generated_scene(args.size, model),
              [(512, 0), (512, 16), (512, 32), (512, 64), (768, 16), (768, 32), (1024, 32)],
              "generated")
    if args.only in (None, "skips"):
        print()
        skips(args.size, [10, 20, 40, 60])
    if args.only in (None, "speed"):
        print()
        # One window a call (the real model's batch; memory grows with the batch, not speed).
        speed(model, [(512, 16, 1), (512, 32, 1), (512, 64, 1), (768, 32, 1), (768, 64, 1),
                      (1024, 32, 1), (1024, 64, 1)], [1, 2], args.rounds)


if __name__ == "__main__":
    main()
