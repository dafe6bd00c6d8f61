"""``make bench`` (clc-dynamicworld): the served graph against the network as converted.

The converted Dynamic World network computes Mish's gate as ``Tanh(Softplus(x))``; ONNX
Runtime's Softplus kernel is scalar and took two thirds of the run time. The served graph
computes the same gate as ``n / (n + 2)``, ``n = e^x (e^x + 2)`` (``inference/dynamicworld.py``).
Both graphs (same normalisation, same CLC mapping) run on the same random 512 px windows in
this process, alternating, median of several calls; the answer's largest difference between
them is printed too.

    python -m tests.bench.dynamicworld [--batch 4] [--calls 3] [--threads 1,2]
"""

from __future__ import annotations

import argparse

import numpy as np

from inference import dynamicworld as dw
from inference.backends import OnnxRuntimeBackend
from tests.bench.models import WINDOW, tile_windows, timed_pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    import tempfile
    from pathlib import Path

    x = np.random.default_rng(0).uniform(0.02, 0.45, (args.batch, len(dw.BANDS), WINDOW, WINDOW))
    x = x.astype(np.float32)
    mpx = args.batch * WINDOW * WINDOW / 1e6
    rows = []
    with tempfile.TemporaryDirectory(prefix="earthsig-bench-dw-") as tmp:
        paths = {}
        for fast_mish in (False, True):  # the network as converted, then the served graph
            paths[fast_mish] = Path(tmp) / f"{fast_mish}.onnx"
            paths[fast_mish].write_bytes(
                dw.wrap(dw.network(), fast_mish=fast_mish).SerializeToString())
        for threads in (int(t) for t in args.threads.split(",")):
            base, fast = (OnnxRuntimeBackend(paths[f], threads=threads) for f in (False, True))
            diff = float(np.abs(base.predict(x) - fast.predict(x)).max())
            a, b = timed_pair(lambda b=base: b.predict(x), lambda f=fast: f.predict(x),
                              args.calls)
            rows.append(f"| {threads} | {mpx / a:.3f} | {mpx / b:.3f} | {a / b:.1f}x | "
                        f"{tile_windows() * b / args.batch / 60:.1f} | {diff:.1e} |")
            print(f"  threads {threads}: {a:.2f} s vs {b:.2f} s per batch of {args.batch}",
                  flush=True)
    print(f"\nclc-dynamicworld, {args.batch} windows of {WINDOW} px per call, median of "
          f"{args.calls}; baseline: the network as converted, same run\n")
    print("| ORT threads | as converted Mpx/s | served Mpx/s | speed-up | served minutes per "
          "tile (model only) | largest probability difference |")
    print("|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
