"""``make bench`` (clc-dynamicworld): the model's speed on this machine's CPU cores, each
optimisation against the network as first converted, with its arg-max agreement.

Baseline: the wrapped model as converted (the network's own ``Tanh(Softplus(x))`` Mish and
antialiased Resize, the wrap's normalisation and CLC mapping, ONNX Runtime ``ORT_ENABLE_ALL``,
2 intra-op threads). Variants: the served graph (Mish as ``n / (n + 2)``, the downsampling as
a convolution) in ONNX Runtime at each graph optimisation level, saved optimised, 1 thread;
the int8 network (``inference/dynamicworld_int8.py``, calibrated on the real patches of the
tuning source only); the served graph in OpenVINO (the pipeline's runtime for this model,
``inference.backends.OpenVinoBackend``) with 2 and 1 threads and in bfloat16, and OpenVINO on
the graph as converted (it ignores Resize's antialiasing: why the served graph has none).

Speed: the 512 px windows of a generated 2048 px L1C crop (``samples``, top-of-atmosphere
reflectance; a full tile is 10+ minutes per variant at the baseline's speed), ``--batch``
windows per call; every batch runs through every variant in turn (the order rotates), so
machine load hits all of them alike. Mpx/s is input pixels over the summed call times; s/tile
is the 529 overlapping 512 px windows of a 10980 px tile (138.7 Mpx) at that rate (model
only: no reading, cloud mask or writing). Agreement: the share of pixels whose arg-max CLC
class equals the baseline's, on the crop and on every real BigEarthNet patch the loader gives
(``samples.real_patches``, L2A plus the pipeline's path reflectance), split into the tuning
source (configilm-BENv2: what int8 is calibrated on) and the held-out others. Peak RSS and
load time (session creation, and OpenVINO's compilation for the window's shape): one fresh
process per variant (one batch).

    python -m tests.bench.dynamicworld [--crop 2048] [--batch 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from inference import dynamicworld as dw
from inference import dynamicworld_int8 as q8
from tests.bench.machine import cpu_description
from tests.bench.models import WINDOW, tile_windows

CACHE = Path(".earthsig/bench")
TILE, DAY = "T31TCJ", "2024-07-01"
THREADS = 2
LEVELS = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
          "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
          "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
          "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}


@dataclass
class Variant:
    name: str
    path: Path
    level: str = "all"  # ONNX Runtime's graph optimisation level, or OpenVINO's precision
    threads: int = THREADS
    runtime: str = "onnxruntime"
    seconds: float = 0.0
    pixels: int = 0
    crop_classes: list[np.ndarray] = field(default_factory=list)
    patch_classes: dict[str, np.ndarray] = field(default_factory=dict)
    probe: dict = field(default_factory=dict)

    def runner(self, *, arena: bool = False) -> Callable[[np.ndarray], np.ndarray]:
        if self.runtime == "openvino":
            return openvino_runner(self.path, self.level, self.threads)
        s = session(self.path, self.level, self.threads, arena=arena)
        return lambda x: s.run(None, {"reflectance": x})[0]


def openvino_runner(path: Path, precision: str, threads: int
                    ) -> Callable[[np.ndarray], np.ndarray]:
    """The pipeline's OpenVINO backend (float32), or OpenVINO as it is for other precisions
    and for graphs the backend refuses (the antialiased Resize)."""
    from inference.backends import OpenVinoBackend

    if precision == "f32" and "converted" not in path.name:
        return OpenVinoBackend(path, threads=threads).predict
    import openvino as ov

    core, compiled = ov.Core(), {}

    def run(x: np.ndarray) -> np.ndarray:
        if x.shape not in compiled:
            model = core.read_model(str(path))
            model.reshape(list(x.shape))
            compiled[x.shape] = core.compile_model(model, "CPU", {
                "INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_NUM_THREADS": threads})
        return compiled[x.shape](x)[0]
    return run


def session(path: Path, level: str, threads: int, *, arena: bool = False
            ) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = LEVELS[level]
    # Without the arena each run gives its memory back: seven sessions each keeping a batch's
    # ~1.3 GB would not fit beside the other benchmarks (peak RSS is probed with it, below).
    options.enable_cpu_mem_arena = arena
    return ort.InferenceSession(str(path), sess_options=options,
                                providers=["CPUExecutionProvider"])


def generated_crop(size: int) -> np.ndarray:
    """[9, size, size] top-of-atmosphere reflectance of a generated L1C crop (cached)."""
    cached = CACHE / f"dynamicworld-crop-{TILE}-{size}.npy"
    if cached.exists():
        return np.load(cached)
    import datetime as dt

    from samples.arrays import upsample2
    from samples.scene import generate_scene

    scene = generate_scene(TILE, dt.date.fromisoformat(DAY), size)
    bands = []
    for band in dw.BANDS:
        r = scene.reflectance(band, toa=True)
        bands.append(r if r.shape[0] == size else upsample2(r)[:size, :size])
    crop = np.stack(bands).astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cached, crop)
    return crop


def real_patches() -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Each real patch's model input [9, 120, 120] and its source ({} when not installed)."""
    from evaluation.bigearthnet import Atmosphere
    from ingest.clouds.toa_emulation import path_reflectance
    from samples.real_patches import DEFAULT_ROOT, load_patches

    if not DEFAULT_ROOT.exists():
        return {}, {}
    path = path_reflectance(dw.BANDS, **vars(Atmosphere()))
    patches = load_patches(DEFAULT_ROOT)
    return ({p.id: (p.reflectance(dw.BANDS) + path[:, None, None]).astype(np.float32)
             for p in patches}, {p.id: p.source for p in patches})


def int8_network(inputs: dict[str, np.ndarray], sources: dict[str, str]) -> onnx.ModelProto:
    """The network with int8 convolutions, calibrated here on the tuning source's patches."""
    from evaluation.bigearthnet import TUNING_SOURCE

    calibration = np.stack([x for k, x in inputs.items() if sources[k] == TUNING_SOURCE])
    return onnx.load_from_string(q8.quantize(dw.network(), calibration))


def build_variants(folder: Path, inputs: dict[str, np.ndarray],
                   sources: dict[str, str]) -> list[Variant]:
    files = {
        "converted": dw.wrap(dw.network(), fast_mish=False, conv_downsample=False),
        "served": dw.wrap(dw.network()),
    }
    if inputs:
        files["int8"] = dw.wrap(int8_network(inputs, sources))
    paths = {}
    for name, model in files.items():
        paths[name] = folder / f"{name}.onnx"
        paths[name].write_bytes(model.SerializeToString())
    # ORT_ENABLE_ALL's result saved once (its NCHWc layout is for this CPU only), then loaded
    # with optimisation off: what a worker would keep to skip the optimisation at start.
    saved = folder / "served-optimised.onnx"
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(saved)
    ort.InferenceSession(str(paths["served"]), sess_options=options,
                         providers=["CPUExecutionProvider"])
    variants = [
        Variant("as converted (baseline)", paths["converted"]),
        Variant("served graph (rational Mish, downsampling as a convolution)", paths["served"]),
        Variant("served, ORT_ENABLE_EXTENDED", paths["served"], level="extended"),
        Variant("served, ORT_ENABLE_BASIC", paths["served"], level="basic"),
        Variant("served, saved optimised model", saved, level="disabled"),
        Variant("served, 1 thread", paths["served"], threads=1),
    ]
    if "int8" in paths:
        variants.append(Variant("int8 convs (QDQ, per channel, MinMax on BENv2)",
                                paths["int8"]))
    variants += [
        Variant("**OpenVINO, served graph (the pipeline's)**", paths["served"], "f32",
                runtime="openvino"),
        Variant("OpenVINO, served graph, 1 thread", paths["served"], "f32", threads=1,
                runtime="openvino"),
        Variant("OpenVINO, served graph, bfloat16", paths["served"], "bf16",
                runtime="openvino"),
        Variant("OpenVINO, graph as converted (antialias ignored)", paths["converted"], "f32",
                runtime="openvino"),
    ]
    return variants


def clc_classes(probabilities: np.ndarray) -> np.ndarray:
    return probabilities.argmax(axis=1).astype(np.uint8)


def measure(variants: list[Variant], crop: np.ndarray, batch: int,
            patches: dict[str, np.ndarray]) -> None:
    sessions = [v.runner() for v in variants]
    windows = [crop[:, r:r + WINDOW, c:c + WINDOW]
               for r in range(0, crop.shape[1] - WINDOW + 1, WINDOW)
               for c in range(0, crop.shape[2] - WINDOW + 1, WINDOW)]
    warm = np.stack(windows[:batch])
    for run in sessions:
        run(warm)
    for i, start in enumerate(range(0, len(windows), batch)):
        x = np.stack(windows[start:start + batch])
        order = list(range(len(variants)))
        order = order[i % len(order):] + order[:i % len(order)]
        for k in order:
            t0 = time.perf_counter()
            out = sessions[k](x)
            variants[k].seconds += time.perf_counter() - t0
            variants[k].pixels += x.shape[0] * WINDOW * WINDOW
            variants[k].crop_classes.append(clc_classes(out))
        print(f"  batch {i + 1}/{-(-len(windows) // batch)}", flush=True)
    ids = list(patches)
    for v, run in zip(variants, sessions, strict=True):
        for start in range(0, len(ids), 8):
            chunk = ids[start:start + 8]
            out = run(np.stack([patches[k] for k in chunk]))
            v.patch_classes.update(zip(chunk, clc_classes(out), strict=True))


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean(np.concatenate([x.ravel() for x in a])
                         == np.concatenate([y.ravel() for y in b])))


def probe(path: str, level: str, threads: int, runtime: str, batch: int) -> None:
    """In a fresh process: load time and peak RSS over one batch (JSON line)."""
    x = np.random.default_rng(0).uniform(0.02, 0.45, (batch, len(dw.BANDS), WINDOW, WINDOW))
    x = x.astype(np.float32)
    t0 = time.perf_counter()
    # ORT's arena on, as the pipeline's backend; OpenVINO compiles at the first shape seen.
    run = Variant("probe", Path(path), level, threads, runtime).runner(arena=True)
    if runtime == "openvino":
        run(x)
    load = time.perf_counter() - t0
    run(x)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"load_s": load, "peak_mb": peak_mb}))


def run_probe(v: Variant, batch: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.bench.dynamicworld", "--probe",
                          str(v.path), v.level, str(v.threads), v.runtime,
                          "--batch", str(batch)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def report(variants: list[Variant], sources: dict[str, str], crop_size: int, batch: int
           ) -> list[str]:
    from evaluation.bigearthnet import TUNING_SOURCE

    base = variants[0]
    tuning = [k for k, s in sources.items() if s == TUNING_SOURCE]
    held = [k for k, s in sources.items() if s != TUNING_SOURCE]
    tile_mpx = tile_windows() * WINDOW * WINDOW / 1e6

    def on(v: Variant, ids: list[str]) -> str:
        if not ids:
            return "n/a"
        share = agreement([v.patch_classes[k] for k in ids],
                          [base.patch_classes[k] for k in ids])
        return f"{100 * share:.2f} %"

    lines = [
        f"clc-dynamicworld on {crop_size} px of a generated L1C crop ({len(base.crop_classes)} "
        f"calls of {batch} x {WINDOW} px windows, variants interleaved), real patches: "
        f"{len(held)} held out (not {TUNING_SOURCE}), {len(tuning)} of {TUNING_SOURCE} (int8's "
        f"calibration set); baseline: as converted, same run; {cpu_description()}",
        "",
        "| variant | ORT level / OpenVINO precision | threads | Mpx/s | vs baseline | "
        "min/tile (model only) | "
        "agreement held-out patches | agreement BENv2 patches | agreement generated crop | "
        "load s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base_rate = base.pixels / base.seconds / 1e6
    for v in variants:
        rate = v.pixels / v.seconds / 1e6
        lines.append(
            f"| {v.name} | {v.level} | {v.threads} | {rate:.3f} | {rate / base_rate:.2f}x | "
            f"{tile_mpx / rate / 60:.1f} | {on(v, held)} | {on(v, tuning)} | "
            f"{100 * agreement(v.crop_classes, base.crop_classes):.2f} % | "
            f"{v.probe['load_s']:.2f} | {v.probe['peak_mb']:.0f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crop", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--probe", nargs=4, metavar=("PATH", "LEVEL", "THREADS", "RUNTIME"))
    args = parser.parse_args()
    if args.probe:
        probe(args.probe[0], args.probe[1], int(args.probe[2]), args.probe[3], args.batch)
        return
    patches, sources = real_patches()
    if not patches:
        print("(no real patches: `make real-patches`; agreement on the generated crop only, "
              "no int8 variant)")
    crop = generated_crop(args.crop)
    with tempfile.TemporaryDirectory(prefix="earthsig-bench-dw-") as tmp:
        variants = build_variants(Path(tmp), patches, sources)
        for v in variants:
            v.probe = run_probe(v, args.batch)
        measure(variants, crop, args.batch, patches)
    print("\n" + "\n".join(report(variants, sources, args.crop, args.batch)))


if __name__ == "__main__":
    main()
