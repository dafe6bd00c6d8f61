"""The real model on a GPU (issue 20, point 3): a full tile's windows through ONNX Runtime's
TensorRT and CUDA execution providers (what NVIDIA's Triton runs with ``triton_device=gpu``),
seconds per tile and agreement with the CPU's classes. One short run for a lent GPU machine:

    python -m tests.bench.gpu [--windows 529] [--batch 8]

It needs ``onnxruntime-gpu`` (same version as ``onnxruntime``, in a venv of its own: the two
wheels cannot share one) and prints which providers loaded; the CPU reference is OpenVINO in
process, the pipeline's runtime. Not run yet: no GPU was lent to the sessions that wrote it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from inference import dynamicworld as dw
from tests.bench.dynamicworld import generated_crop
from tests.bench.models import WINDOW, tile_windows

GOAL_S = 20.0  # a full tile on one GPU
MIN_AGREEMENT = 0.99


def windows(crop: np.ndarray, n: int) -> np.ndarray:
    """``n`` 512 px windows cut from the generated crop (cycled: speed needs shapes, the
    agreement needs real content)."""
    cuts = [crop[:, r:r + WINDOW, c:c + WINDOW]
            for r in range(0, crop.shape[1] - WINDOW + 1, WINDOW)
            for c in range(0, crop.shape[2] - WINDOW + 1, WINDOW)]
    return np.stack([cuts[i % len(cuts)] for i in range(n)])


def run(path: Path, providers: list, x: np.ndarray, batch: int) -> tuple[float, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=providers)
    session.run(None, {"reflectance": x[:batch]})  # engine build / warm-up, not timed
    classes, t0 = [], time.perf_counter()
    for i in range(0, len(x), batch):
        classes.append(session.run(None, {"reflectance": x[i:i + batch]})[0].argmax(axis=1))
    return time.perf_counter() - t0, np.concatenate(classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=tile_windows())
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    available = ort.get_available_providers()
    print(f"ONNX Runtime {ort.__version__}, providers {available}")
    x = windows(generated_crop(2048), args.windows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "served.onnx"
        path.write_bytes(dw.wrap(dw.network()).SerializeToString())
        from inference.backends import OpenVinoBackend

        cpu = OpenVinoBackend(path)
        reference = np.concatenate([cpu.predict(x[i:i + 1]).argmax(axis=1)
                                    for i in range(min(len(x), 16))])
        variants = {
            "tensorrt fp32": [("TensorrtExecutionProvider", {
                "trt_engine_cache_enable": True, "trt_engine_cache_path": tmp}),
                "CUDAExecutionProvider"],
            "tensorrt fp16": [("TensorrtExecutionProvider", {
                "trt_fp16_enable": True, "trt_engine_cache_enable": True,
                "trt_engine_cache_path": tmp}), "CUDAExecutionProvider"],
            "cuda": ["CUDAExecutionProvider"],
        }
        print(f"\n{args.windows} windows of {WINDOW} px (a full tile: {tile_windows()}), "
              f"batch {args.batch}; agreement against OpenVINO on the CPU, first 16 windows\n")
        print("| provider | s/tile | Mpx/s | agreement | goal <= 20 s and >= 99 % |")
        print("|---|---:|---:|---:|---|")
        for name, providers in variants.items():
            wanted = providers[0][0] if isinstance(providers[0], tuple) else providers[0]
            if wanted not in available:
                print(f"| {name} | – | – | – | not available |")
                continue
            try:
                seconds, classes = run(path, providers, x, args.batch)
            except Exception as exc:  # a provider that fails to build its engine: say so
                print(f"| {name} | – | – | – | failed: {str(exc)[:80]} |")
                continue
            per_tile = seconds * tile_windows() / args.windows
            share = float((classes[:len(reference)] == reference).mean())
            mpx = args.windows * WINDOW * WINDOW / seconds / 1e6
            met = per_tile <= GOAL_S and share >= MIN_AGREEMENT
            print(f"| {name} | {per_tile:.1f} | {mpx:.1f} | {100 * share:.2f} % | "
                  f"{'met' if met else 'not met'} |")


if __name__ == "__main__":
    main()
