"""Convert Dynamic World's TensorFlow SavedModel to the committed ONNX network.

``earthsig models import-dynamic-world SAVEDMODEL_DIR`` (TensorFlow and tf2onnx come from the
optional extra ``dynamicworld-import``; nothing here runs in the service):

1. tf2onnx converts the ``serving_default`` signature at opset 18;
2. the one op ONNX lacks, TensorFlow's antialiased ``ScaleAndTranslate`` (triangle kernel,
   zero translation: what ``tf.image.resize(..., antialias=True)`` emits), becomes ONNX
   ``Resize`` (opset 18: linear, ``antialias=1``, half-pixel centres, over the H and W axes);
3. the ONNX network is checked against TensorFlow on real pixels (s2cloudless's real L1C
   scene, as Dynamic World was trained on L1C): arg-max agreement and the largest probability
   difference, with a floor below which nothing is written;
4. the network, the licence and NOTICE of the source repository and a small fixture of
   TensorFlow's own outputs (for the tests) are written into ``inference/pretrained``.
"""

from __future__ import annotations

import hashlib
import heapq
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from inference import dynamicworld as dw

MIN_AGREEMENT = 0.995  # arg-max agreement with TensorFlow below which nothing is written
OPSET = 18
FIXTURE = dw.PRETRAINED / "tf_reference.npz"
# Real L1C crops the fixture keeps TensorFlow's answer on (rows, cols of the s2cloudless scene).
FIXTURE_CROPS = ((slice(0, 64), slice(0, 64)), (slice(300, 364), slice(100, 164)),
                 (slice(500, 564), slice(250, 314)), (slice(792, 856), slice(448, 512)))
L1C_ORDER = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
             "B11", "B12")


class ImportError_(RuntimeError):  # noqa: N801 - ImportError is a builtin
    """The SavedModel cannot be converted, or the conversion does not match TensorFlow."""


@dataclass(frozen=True)
class Check:
    pixels: int
    agreement: float  # share of pixels whose arg-max class is TensorFlow's
    max_prob_diff: float  # largest absolute softmax difference, any pixel and class


def convert(saved_model: Path) -> onnx.ModelProto:
    import tensorflow as tf
    import tf2onnx

    loaded = tf.saved_model.load(str(saved_model))
    spec = [tf.TensorSpec([None, None, None, len(dw.BANDS)], tf.float32, name="input")]
    forward = tf.function(lambda x: loaded(x))  # the restored object's call, traceable
    model, _ = tf2onnx.convert.from_function(forward, input_signature=spec, opset=OPSET)
    return canonical_names(replace_scale_and_translate(model))


def replace_scale_and_translate(model: onnx.ModelProto) -> onnx.ModelProto:
    """``ScaleAndTranslate`` (triangle, antialias, no translation) -> ``Resize`` to its size."""
    graph = model.graph
    found = [i for i, n in enumerate(graph.node) if n.op_type == "ScaleAndTranslate"]
    if not found:
        raise ImportError_("no ScaleAndTranslate in the converted graph: not Dynamic World's "
                           "forward model, or tf2onnx learnt it (check and update this code)")
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
    for index in reversed(found):
        node = graph.node[index]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("kernel_type") != b"triangle" or not attrs.get("antialias"):
            raise ImportError_(f"{node.name}: only the antialiased triangle kernel maps onto "
                               f"ONNX Resize (got {attrs})")
        images, size, _scale, translation = node.input
        if translation not in inits or np.any(inits[translation] != 0):
            raise ImportError_(f"{node.name}: translation is not a constant zero")
        # The full NHWC output shape (N and C kept): ONNX Runtime's shape inference refuses a
        # computed two-element ``sizes`` with ``axes`` ("0 elements").
        prefix = node.name
        nodes = [
            helper.make_node("Shape", [images], [f"{prefix}/in_shape"]),
            helper.make_node("Cast", [size], [f"{prefix}/hw"], to=TensorProto.INT64),
            helper.make_node("Slice", [f"{prefix}/in_shape", f"{prefix}/c0", f"{prefix}/c1"],
                             [f"{prefix}/n"]),
            helper.make_node("Slice", [f"{prefix}/in_shape", f"{prefix}/c3", f"{prefix}/c4"],
                             [f"{prefix}/c"]),
            helper.make_node("Concat", [f"{prefix}/n", f"{prefix}/hw", f"{prefix}/c"],
                             [f"{prefix}/sizes"], axis=0),
            helper.make_node("Resize", [images, "", "", f"{prefix}/sizes"], list(node.output),
                             mode="linear", antialias=1,
                             coordinate_transformation_mode="half_pixel"),
        ]
        graph.initializer.extend(onnx.numpy_helper.from_array(np.array([v], np.int64),
                                                              f"{prefix}/c{v}")
                                 for v in (0, 1, 3, 4))
        del graph.node[index]
        for offset, new in enumerate(nodes):
            graph.node.insert(index + offset, new)
    _prune_dead_nodes(graph)
    onnx.checker.check_model(model)
    return model


def _prune_dead_nodes(graph: onnx.GraphProto) -> None:
    """Drop nodes nothing reads (what computed ScaleAndTranslate's scale input)."""
    outputs = {o.name for o in graph.output}
    while True:
        used = {i for n in graph.node for i in n.input} | outputs
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {i for n in graph.node for i in n.input}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def canonical_names(model: onnx.ModelProto) -> onnx.ModelProto:
    """One node order and one set of names for the same graph; one copy of each constant.

    tf2onnx names what it makes from process-wide counters, merges equal subgraphs under
    whichever name it meets first and breaks ties of the topological order as they come, so
    two runs give the same computation in another order under other names. Here every node
    gets a fingerprint of what it computes (operator, attributes, the fingerprints or constant
    contents of its inputs); nodes are sorted topologically with ties broken by fingerprint,
    equal constants are merged, and every tensor and node is named after its position. The
    file is then the same bytes on every run.
    """
    graph = model.graph
    consts = {i.name: _constant_digest(i) for i in graph.initializer}
    prints = _fingerprints(graph, consts)
    order = _stable_order(graph, [prints[n.output[0]] for n in graph.node])
    keep = {v.name for v in (*graph.input, *graph.output)}
    unique = sorted(set(consts.values()))
    names = {name: f"const_{unique.index(digest)}" for name, digest in consts.items()}
    first: dict[str, onnx.TensorProto] = {}
    for init in graph.initializer:
        first.setdefault(names[init.name], init)
    nodes = []
    for position, i in enumerate(order):
        node = onnx.NodeProto()
        node.CopyFrom(graph.node[i])
        for k, out in enumerate(node.output):
            names.setdefault(out, out if out in keep else f"{node.op_type}_{position}:{k}")
        node.name = f"{node.op_type}_{position}"
        nodes.append(node)
    for node in nodes:
        node.input[:] = [names.get(x, x) for x in node.input]
        node.output[:] = [names.get(x, x) for x in node.output]
    inits = [first[name] for name in sorted(first, key=lambda n: int(n.split("_")[1]))]
    for name, init in zip(sorted(first, key=lambda n: int(n.split("_")[1])), inits,
                          strict=True):
        init.name = name
    kept = [onnx.TensorProto() for _ in inits]
    for copy, init in zip(kept, inits, strict=True):
        copy.CopyFrom(init)
    del graph.value_info[:]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model


def _constant_digest(tensor: onnx.TensorProto) -> str:
    array = onnx.numpy_helper.to_array(tensor)
    return hashlib.sha256(repr((array.dtype.str, array.shape)).encode()
                          + array.tobytes()).hexdigest()


def _fingerprints(graph: onnx.GraphProto, consts: dict[str, str]) -> dict[str, str]:
    """Every tensor's fingerprint: what computes it, independent of any name."""
    prints = {**consts, "": ""}
    prints.update({v.name: f"input:{k}" for k, v in enumerate(graph.input)})
    for node in _any_topological_order(graph):
        attrs = sorted(a.SerializeToString(deterministic=True) for a in node.attribute)
        body = repr((node.op_type, node.domain, attrs, [prints[i] for i in node.input]))
        digest = hashlib.sha256(body.encode()).hexdigest()
        for k, out in enumerate(node.output):
            prints[out] = f"{digest}:{k}"
    return prints


def _any_topological_order(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    index = {o: i for i, n in enumerate(graph.node) for o in n.output}
    return [graph.node[i] for i in _stable_order(graph, [""] * len(graph.node), index)]


def _stable_order(graph: onnx.GraphProto, keys: list[str],
                  index: dict[str, int] | None = None) -> list[int]:
    """Kahn's topological sort, ties broken by ``keys`` (then position)."""
    index = index or {o: i for i, n in enumerate(graph.node) for o in n.output}
    readers: dict[int, list[int]] = {}
    waiting = []
    for i, node in enumerate(graph.node):
        deps = {index[x] for x in node.input if x in index}
        waiting.append(len(deps))
        for d in deps:
            readers.setdefault(d, []).append(i)
    ready = [(keys[i], i) for i in range(len(graph.node)) if waiting[i] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for j in readers.get(i, []):
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, (keys[j], j))
    if len(order) != len(graph.node):
        raise ImportError_("the converted graph has a cycle")
    return order


def normalise(toa: np.ndarray) -> np.ndarray:
    """The notebook's normalisation of [..., 9] TOA reflectance (numpy, float64)."""
    dn = np.maximum(toa, 0) * dw.DN_PER_REFLECTANCE
    x = np.log(dn * 0.005 + 1)
    x = (x - dw.NORM_PERCENTILES[:, 0]) / dw.NORM_PERCENTILES[:, 1]
    x = np.exp(x * 5 - 1)
    return x / (x + 1)


def real_l1c_crops(npz: Path) -> list[np.ndarray]:
    """[h, w, 9] TOA reflectance crops of s2cloudless's real L1C scene, in ``BANDS`` order."""
    scene = np.load(npz)["s2_im"][0]
    index = [L1C_ORDER.index(b) for b in dw.BANDS]
    return [scene[rows, cols][..., index].astype(np.float32) for rows, cols in FIXTURE_CROPS]


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def tensorflow_probabilities(saved_model: Path, images: list[np.ndarray]) -> list[np.ndarray]:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved_model))
    return [softmax(np.asarray(loaded(normalise(im)[None].astype(np.float32)))[0])
            for im in images]


def onnx_probabilities(model: onnx.ModelProto, images: list[np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return [softmax(session.run(None, {name: normalise(im)[None].astype(np.float32)})[0][0])
            for im in images]


def compare(reference: list[np.ndarray], candidate: list[np.ndarray]) -> Check:
    agree = sum(int((r.argmax(-1) == c.argmax(-1)).sum()) for r, c in zip(
        reference, candidate, strict=True))
    pixels = sum(r.shape[0] * r.shape[1] for r in reference)
    diff = max(float(np.abs(r - c).max()) for r, c in zip(reference, candidate, strict=True))
    return Check(pixels, agree / pixels, diff)


def import_dynamic_world(saved_model: Path, scene_npz: Path, source_root: Path | None = None,
                         out: Path = dw.PRETRAINED) -> tuple[Check, Check, str]:
    """Convert, check and write; (full-scene check, fixture-crop check, sha256)."""
    if not (saved_model / "saved_model.pb").exists():
        raise ImportError_(f"{saved_model} is not a SavedModel folder (no saved_model.pb); "
                           "give the repository's model/forward")
    model = convert(saved_model)
    scene = np.load(scene_npz)["s2_im"][0]
    full = scene[..., [L1C_ORDER.index(b) for b in dw.BANDS]].astype(np.float32)
    full_check = compare(tensorflow_probabilities(saved_model, [full]),
                         onnx_probabilities(model, [full]))
    if full_check.agreement < MIN_AGREEMENT:
        raise ImportError_(f"ONNX agrees with TensorFlow on {100 * full_check.agreement:.2f} % "
                           f"of the real scene's pixels (< {100 * MIN_AGREEMENT} %): not written")
    crops = real_l1c_crops(scene_npz)
    tf_crops = tensorflow_probabilities(saved_model, crops)
    crop_check = compare(tf_crops, onnx_probabilities(model, crops))
    out.mkdir(parents=True, exist_ok=True)
    network_file = out / dw.NETWORK_FILE.name
    onnx.save(model, str(network_file))
    np.savez_compressed(out / FIXTURE.name, probabilities=np.stack(tf_crops).astype(np.float16),
                        crops=np.array([[r.start, r.stop, c.start, c.stop]
                                        for r, c in FIXTURE_CROPS]))
    root = source_root or saved_model.parent.parent
    for name in ("LICENSE", "NOTICE"):
        if (root / name).exists():
            shutil.copyfile(root / name, out / name)
    return full_check, crop_check, dw.file_sha256(network_file)
