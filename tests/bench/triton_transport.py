"""What moving a tile's windows to Triton and back costs, apart from the model (issue 23, point
3: the GPU sizing's transport term, measurable without a GPU).

On a GPU node the worker reads and writes on its own cores and sends every 512 px window to
Triton over gRPC: clc-dynamicworld's windows in (its input bands, float32) and its class
probabilities out. This measures that traffic alone: the served model's ``model.onnx`` is
replaced by a pass-through graph with the same input and output names and shapes (the first
output-count channels of its input, so the server computes next to nothing), served by the real
``tritonserver`` (Python backend, as in production), called by the pipeline's own
``TritonBackend``. Baseline, same run, calls alternating: the same graph in this process (ONNX
Runtime), which costs the one copy of the answer that both pay. Transport a window = Triton's
median minus the baseline's; a full tile = 529 windows.

An upper bound for production: nvidia-pytriton's ``tritonserver`` has only the Python backend,
which copies each request and answer once more, through shared memory to its stub; the NGC
image's ONNX Runtime backend (compose, Kubernetes) runs the graph inside the server.

    python -m tests.bench.triton_transport [--batches 1,4,8] [--windows 32]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from inference.backends import OnnxRuntimeBackend
from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from inference.spec import ModelSpec
from inference.triton_backend import TritonBackend
from inference.triton_serve import TritonLayout, start_server, wait_ready
from infra.ports import free_port
from tests.bench.machine import cpu_description
from tests.bench.models import WINDOW, stop, tile_windows, timed_pair

MODEL = ("clc-dynamicworld", "1")


def pass_through(spec: ModelSpec, path: Path) -> None:
    """An ONNX graph ``spec``-shaped that answers its input's channels, repeated to the output
    count: transport with no model in it."""
    bands, classes = len(spec.input_bands), len(spec.output_classes)
    repeats = -(-classes // bands)
    x = helper.make_tensor_value_info(spec.input_name, TensorProto.FLOAT,
                                      ["batch", bands, WINDOW, WINDOW])
    y = helper.make_tensor_value_info(spec.output_name, TensorProto.FLOAT,
                                      ["batch", classes, WINDOW, WINDOW])
    nodes = [helper.make_node("Concat", [spec.input_name] * repeats, ["repeated"], axis=1),
             helper.make_node("Slice", ["repeated", "start", "end", "axis"],
                              [spec.output_name])]
    consts = [helper.make_tensor("start", TensorProto.INT64, [1], [0]),
              helper.make_tensor("end", TensorProto.INT64, [1], [classes]),
              helper.make_tensor("axis", TensorProto.INT64, [1], [1])]
    graph = helper.make_graph(nodes, "pass_through", [x], [y], initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path.unlink()  # the repository's file may be a link to the shipped weights
    onnx.save(model, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,4,8")
    parser.add_argument("--windows", type=int, default=32, help="windows timed per batch size")
    args = parser.parse_args()
    settings = InferenceSettings(_env_file=None)
    layout = TritonLayout(settings.triton_venv.resolve())
    rows = []
    with tempfile.TemporaryDirectory(prefix="earthsig-bench-transport-") as tmp:
        root = Path(tmp)
        repo = ModelRepository(root / "models", max_batch_size=16)
        model = repo.build_reference(*MODEL)
        spec = model.spec
        pass_through(spec, model.onnx_path)
        grpc_port, http_port = free_port(), free_port()
        log = root / "tritonserver.log"
        # ONNX Runtime on both sides (not the model's OpenVINO): the graph is the same file.
        server = start_server(repo, layout, root / "triton", grpc_port=grpc_port,
                              http_port=http_port, log_path=log, ort_threads=1,
                              ort_arena=False)
        url = f"127.0.0.1:{grpc_port}"
        try:
            wait_ready(url, server, timeout_s=180, log_path=log)
            local = OnnxRuntimeBackend(model.onnx_path, threads=1, arena=False)
            triton = TritonBackend(url, spec.name, spec.version, input_name=spec.input_name,
                                   output_name=spec.output_name, timeout_s=600, retries=0)
            rng = np.random.default_rng(0)
            for batch in [int(b) for b in args.batches.split(",")]:
                x = rng.uniform(0, 1, (batch, len(spec.input_bands), WINDOW, WINDOW)) \
                    .astype(np.float32)
                answer = triton.predict(x)
                expected = np.concatenate([x] * -(-len(spec.output_classes) // x.shape[1]),
                                          axis=1)[:, :len(spec.output_classes)]
                if not np.array_equal(answer, expected):
                    raise AssertionError("the served pass-through answered other values")
                calls = max(3, args.windows // batch)
                a, b = timed_pair(lambda x=x: local.predict(x), lambda x=x: triton.predict(x),
                                  calls)
                rows.append((batch, a / batch, b / batch, x.nbytes / batch,
                             answer.nbytes / batch))
                print(f"  batch {batch}: in process {a:.3f} s, Triton {b:.3f} s per call "
                      f"({calls} calls each)", flush=True)
            triton.close()
        finally:
            stop(server)
    windows = tile_windows()
    print(f"\n{spec.ref} shapes ({len(spec.input_bands)} bands in, "
          f"{len(spec.output_classes)} classes out, float32, {WINDOW} px windows), a "
          f"pass-through graph; a full tile = {windows} windows; baseline: the same graph in "
          f"this process, same run; {cpu_description()}\n")
    print("| batch | MB in + out a window | in process s/window | Triton s/window | "
          "transport s/window | transport s/tile | Triton / in process |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for batch, a, b, sent, got in rows:
        print(f"| {batch} | {sent / 1e6:.1f} + {got / 1e6:.1f} | {a:.4f} | {b:.4f} | "
              f"{b - a:.4f} | {(b - a) * windows:.1f} | {b / a:.1f}x |")


if __name__ == "__main__":
    main()
