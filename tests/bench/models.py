"""``make bench`` (models): windows/s and Mpx/s per model, backend and batch size.

Models: ``clc-spectral`` (both shipped versions), ``clc-dynamicworld`` (the default: Dynamic
World's network with its normalisation and CLC mapping) and the original's U-Net (``clc-unet``
architecture, width 64, depth 4, 44 CLC classes, untrained: speed does not depend on the
weights). Backends: the model's in-process runtime (the baseline, measured in the same run:
ONNX Runtime, or OpenVINO for the models ``InferenceSettings.model_runtimes`` names, i.e.
clc-dynamicworld) and a real Triton server (the nvidia-pytriton ``tritonserver``, Python
backend running the same ONNX file with the same runtime) over gRPC with tritonclient. Each
figure is the median time of one ``predict`` call on a prepared batch of 512 x 512 px windows
after one warm-up call; in-process and Triton calls alternate, so both see the same machine
load. A full Sentinel-2 tile (10980 x 10980 px, 512 px windows, 32 px overlap) is 529 windows:
products/day per node is 86400 s over the time those take at the measured rate (inference
only: no I/O).
ONNX Runtime's memory arena is off on both sides unless ``--arena``: with it a batch of 16
U-Net windows keeps ~5 GB in each process, and the two did not fit this VM's memory.

    python -m tests.bench.models [--unet-windows 16] [--spectral-windows 64] [--batches 1,4,16]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from catalog_schemas import clc
from inference.backends import Backend, OnnxRuntimeBackend, OpenVinoBackend
from inference.repository import ModelRepository, ResolvedModel
from inference.settings import InferenceSettings
from inference.stitch import axis_layout
from inference.triton_backend import TritonBackend
from inference.triton_serve import TritonLayout, start_server, wait_ready
from infra.ports import free_port
from tests.bench.machine import cpu_description

WINDOW = 512
OVERLAP = 32
TILE_PX = 10980


@dataclass(frozen=True)
class Figure:
    model: str
    batch: int
    ort_s: float  # median seconds per predict call, in process (the model's runtime)
    triton_s: float  # the same through Triton

    def windows_per_s(self, seconds: float) -> float:
        return self.batch / seconds

    @property
    def overhead(self) -> float:
        return self.triton_s / self.ort_s - 1


def tile_windows(size: int = TILE_PX, window: int = WINDOW, overlap: int = OVERLAP) -> int:
    return len(axis_layout(size, window, overlap)) ** 2


def products_per_day(windows_per_s: float) -> float:
    return 86400 * windows_per_s / tile_windows()


def bench_repository(root: Path, width: int, depth: int) -> list[ResolvedModel]:
    """clc-spectral 1 and 2, clc-dynamicworld, and an untrained clc-unet of the original's
    size."""
    from inference.training import Checkpoint, export

    repo = ModelRepository(root, max_batch_size=16)
    models = [repo.build_reference("clc-spectral", v) for v in ("1", "2")]
    models.append(repo.build_reference("clc-dynamicworld", "1"))
    codes = [c.clc_code for c in clc.clc_classes()]  # the original's 44-class head
    untrained = Checkpoint(codes, [0.0] * 4, [0.5] * 4, [0.2] * 4, width, depth)
    models.append(export(untrained, repo, "clc-unet", window_size=WINDOW))
    return models


def timed_pair(first: Callable[[], object], second: Callable[[], object], calls: int
               ) -> tuple[float, float]:
    """Median seconds of each call, the two alternating (the same machine load for both)."""
    first(), second()  # warm-up: session allocations, gRPC channel, the server's first request
    a, b = [], []
    for _ in range(calls):
        for fn, times in ((first, a), (second, b)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b)


def measure(model: ResolvedModel, url: str, batches: list[int], windows: int,
            threads: int, arena: bool, settings: InferenceSettings) -> list[Figure]:
    spec = model.spec
    rng = np.random.default_rng(0)
    ort: Backend = (OpenVinoBackend(model.onnx_path, threads=threads)
                    if settings.runtime_for(spec.name) == "openvino"
                    else OnnxRuntimeBackend(model.onnx_path, threads=threads, arena=arena))
    triton = TritonBackend(url, spec.name, spec.version, input_name=spec.input_name,
                           output_name=spec.output_name, timeout_s=600, retries=0)
    figures = []
    for batch in batches:
        reflectance = rng.uniform(0.0, 0.5, (batch, len(spec.input_bands), WINDOW, WINDOW))
        x = spec.prepare(reflectance.astype(np.float32))
        calls = max(3, windows // batch)
        a, b = timed_pair(lambda x=x: ort.predict(x), lambda x=x: triton.predict(x), calls)
        figures.append(Figure(spec.ref, batch, a, b))
        print(f"  {spec.ref} batch {batch}: in process {a:.3f} s, Triton {b:.3f} s per call "
              f"({calls} calls each)", flush=True)
    triton.close()
    return figures


def table(figures: list[Figure]) -> list[str]:
    lines = ["| model | batch | in-process windows/s | Mpx/s | products/day | "
             "Triton windows/s | Triton Mpx/s | Triton products/day | Triton overhead |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    mpx = WINDOW * WINDOW / 1e6
    for f in figures:
        a, b = f.windows_per_s(f.ort_s), f.windows_per_s(f.triton_s)
        lines.append(f"| {f.model} | {f.batch} | {a:.2f} | {a * mpx:.2f} | "
                     f"{products_per_day(a):.1f} | {b:.2f} | {b * mpx:.2f} | "
                     f"{products_per_day(b):.1f} | {100 * f.overhead:+.1f} % |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,4,16")
    parser.add_argument("--spectral-windows", type=int, default=64,
                        help="windows per batch size for clc-spectral (timed calls x batch)")
    parser.add_argument("--unet-windows", type=int, default=16,
                        help="windows per batch size for the U-Net")
    parser.add_argument("--unet-width", type=int, default=64)
    parser.add_argument("--unet-depth", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0,
                        help="ONNX Runtime threads, in process and in the server (0: all)")
    parser.add_argument("--models",
                        default="clc-spectral:1,clc-spectral:2,clc-dynamicworld:1,clc-unet:1")
    parser.add_argument("--arena", action="store_true",
                        help="keep ONNX Runtime's memory arena (in process and in the server); "
                             "off by default: with it a batch of 16 U-Net windows holds ~5 GB "
                             "in each process and the pair did not fit this VM's memory")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    settings = InferenceSettings(_env_file=None)
    layout = TritonLayout(settings.triton_venv.resolve())
    with tempfile.TemporaryDirectory(prefix="earthsig-bench-models-") as tmp:
        root = Path(tmp)
        models = bench_repository(root / "models", args.unet_width, args.unet_depth)
        repo = ModelRepository(root / "models", max_batch_size=16)
        grpc_port, http_port = free_port(), free_port()
        log = root / "tritonserver.log"
        server = start_server(repo, layout, root / "triton", grpc_port=grpc_port,
                              http_port=http_port, log_path=log, ort_threads=args.threads,
                              ort_arena=args.arena, runtimes=dict(settings.model_runtimes))
        url = f"127.0.0.1:{grpc_port}"
        figures: list[Figure] = []
        try:
            wait_ready(url, server, timeout_s=180, log_path=log)
            wanted = args.models.split(",")
            for model in models:
                if model.spec.ref not in wanted:
                    continue
                network = model.spec.name in ("clc-unet", "clc-dynamicworld")
                windows = args.unet_windows if network else args.spectral_windows
                figures += measure(model, url, batches, windows, args.threads, args.arena,
                                   settings)
        finally:
            stop(server)
    runtimes = ", ".join(f"{m.spec.ref} {settings.runtime_for(m.spec.name)}" for m in models
                         if m.spec.ref in args.models.split(","))
    print(f"\nModels, {WINDOW} px windows, a full tile = {tile_windows()} windows "
          f"(overlap {OVERLAP}); U-Net width {args.unet_width}, depth {args.unet_depth}; "
          f"ORT memory arena {'on' if args.arena else 'off'}; in process and in Triton: "
          f"{runtimes}; baseline: in this process, same run; {cpu_description()}\n")
    print("\n".join(table(figures)))


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
