"""clc-dynamicworld: the committed network, its wrapping, the CLC mapping, the import's surgery.

The network's outputs are checked against TensorFlow's own on real L1C pixels (crops of
s2cloudless's real scene; TensorFlow's probabilities were saved by the import command as
``inference/pretrained/dynamicworld/tf_reference.npz``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from catalog_schemas import clc
from inference import dynamicworld as dw
from inference import dynamicworld_import as imp
from inference.mlm import mlm_item
from inference.repository import ModelRepository
from tests.models import built

REAL_SCENE = Path(__file__).parents[2] / ".earthsig/testdata/s2cloudless/input_arrays.npz"


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_committed_network_is_the_pinned_bytes_with_its_licence() -> None:
    assert dw.file_sha256(dw.NETWORK_FILE) == dw.NETWORK_SHA256
    licence = (dw.PRETRAINED / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence
    assert "National Geographic and the World Resources Institute" in (
        dw.PRETRAINED / "NOTICE").read_text()


def test_network_matches_tensorflow_on_real_l1c_pixels() -> None:
    reference = np.load(dw.PRETRAINED / imp.FIXTURE.name)
    expected = reference["probabilities"].astype(np.float32)
    crops = imp.real_l1c_crops(REAL_SCENE)
    assert [tuple(c) for c in reference["crops"]] == [
        (r.start, r.stop, c.start, c.stop) for r, c in imp.FIXTURE_CROPS]
    got = imp.onnx_probabilities(dw.network(), crops)
    check = imp.compare(list(expected), got)
    # Measured at import: 99.38 % of the crops' pixels, largest difference 0.045 (the
    # antialiased resize is ONNX's, not TensorFlow's, and float16 storage).
    assert check.agreement > 0.99
    assert check.max_prob_diff < 0.06
    # Not a constant answer: the real crops hold several classes.
    assert len(np.unique(np.concatenate([g.argmax(-1).ravel() for g in got]))) >= 3


def test_notebook_normalisation_by_hand() -> None:
    # B02 at reflectance 0.1 = DN 1000: log(6) = 1.79176; (1.79176 - 1.74173) / 2.02330
    # = 0.024727; exp(5 * 0.024727 - 1) = 0.41617; 0.41617 / 1.41617 = 0.29387.
    toa = np.full((1, 9), 0.1)
    assert imp.normalise(toa)[0, 0] == pytest.approx(0.29387, abs=1e-4)
    # Negative reflectance (an L2A offset under a dark pixel) is read as 0, never NaN.
    assert np.isfinite(imp.normalise(np.full((1, 9), -0.05))).all()


def test_wrapped_model_is_network_on_normalised_bands_mapped_to_clc() -> None:
    crop = imp.real_l1c_crops(REAL_SCENE)[1]  # [h, w, 9] real TOA reflectance
    crop = crop[:48, :48]
    wrapped = _session(dw.wrap(dw.network()))
    probs = wrapped.run(None, {"reflectance": crop.transpose(2, 0, 1)[None]})[0][0]
    net = imp.onnx_probabilities(dw.network(), [crop])[0]  # [h, w, 9], numpy normalisation
    codes = dw.output_codes()
    expected = net @ dw.mapping_matrix()  # trees all on 311 so far
    # The forest split: trees over dark SWIR-1 are coniferous (312), the rest broad-leaved.
    swir = crop[..., dw.BANDS.index("B11")]
    conifer = swir < dw.FOREST_SPLIT.threshold
    trees = expected[..., codes.index(311)].copy()
    expected[..., codes.index(311)] = np.where(conifer, 0.0, trees)
    expected[..., codes.index(312)] = np.where(conifer, trees, 0.0)
    expected = expected.transpose(2, 0, 1)
    clear_of_threshold = np.abs(swir - dw.FOREST_SPLIT.threshold) > 1e-3
    assert probs.shape == (len(codes), 48, 48)
    np.testing.assert_allclose(probs[:, clear_of_threshold], expected[:, clear_of_threshold],
                               atol=2e-4)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    assert conifer.any() and (~conifer).any()  # both sides of the split are exercised
    # Band order matters: the same pixels with blue and SWIR-2 swapped are another answer.
    swapped = crop[..., [8, 1, 2, 3, 4, 5, 6, 7, 0]].transpose(2, 0, 1)[None]
    other = wrapped.run(None, {"reflectance": swapped})[0][0]
    assert (other.argmax(0) != probs.argmax(0)).mean() > 0.05


def test_mapping_table() -> None:
    codes = dw.output_codes()
    assert codes == [512, 311, 312, 231, 411, 211, 324, 112, 333, 335, 523]
    assert dw.output_codes(split=None) == [512, 311, 231, 411, 211, 324, 112, 333, 335, 523]
    matrix = dw.mapping_matrix()
    assert matrix.shape == (9, 11)
    assert (matrix.sum(axis=1) == 1).all()  # every Dynamic World class lands on one code
    assert matrix[:, codes.index(523)].sum() == 0  # 523 only from the coastline refinement
    assert matrix[:, codes.index(312)].sum() == 0  # 312 only from the forest split
    by_class = {m.dw_class: m.clc_code for m in dw.MAPPING}
    assert by_class == {"water": 512, "trees": 311, "grass": 231, "flooded_vegetation": 411,
                        "crops": 211, "shrub_and_scrub": 324, "built": 112, "bare": 333,
                        "snow_and_ice": 335}
    for code in dw.output_codes():
        clc.by_clc_code(code)  # each is a real CLC level-3 class


def test_mlm_lists_exactly_the_reachable_classes_and_provenance(tmp_path: Path) -> None:
    repo = ModelRepository(built(tmp_path, "clc-dynamicworld"))
    model = repo.resolve("clc-dynamicworld")
    doc = json.loads(model.mlm_path.read_text())
    props = doc["properties"]
    classes = props["mlm:output"][0]["classification:classes"]
    assert [c["name"] for c in classes] == [f"clc-{c}" for c in dw.output_codes()]
    assert props["mlm:input"][0]["bands"] == list(dw.BANDS)
    hyper = props["mlm:hyperparameters"]
    assert hyper["license"] == "Apache-2.0" and "World Resources Institute" in hyper[
        "attribution"]
    assert hyper["network_sha256"] == dw.NETWORK_SHA256
    assert dw.SOURCE_COMMIT in hyper["source"]
    assert hyper["input_units"] == "top-of-atmosphere reflectance"
    assert model.spec.output_classes == dw.output_codes()
    assert doc == mlm_item(model.spec, doc["properties"]["mlm:framework_version"])


def _scale_and_translate_graph() -> onnx.ModelProto:
    nodes = [helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Slice", ["shape", "s1", "s3"], ["hw"]),
             helper.make_node("Div", ["hw", "two"], ["half"]),
             helper.make_node("Cast", ["half"], ["size"], to=TensorProto.INT32),
             helper.make_node("Cast", ["size"], ["size_f"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["hw"], ["hw_f"], to=TensorProto.FLOAT),
             helper.make_node("Div", ["size_f", "hw_f"], ["scale"]),
             helper.make_node("ScaleAndTranslate", ["x", "size", "scale", "zeros"], ["y"],
                              kernel_type="triangle", antialias=1)]
    inits = [numpy_helper.from_array(np.array([1], np.int64), "s1"),
             numpy_helper.from_array(np.array([3], np.int64), "s3"),
             numpy_helper.from_array(np.array(2, np.int64), "two"),
             numpy_helper.from_array(np.zeros(2, np.float32), "zeros")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None, None, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None, None, 1])],
        initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_scale_and_translate_becomes_an_antialiased_resize() -> None:
    model = imp.replace_scale_and_translate(_scale_and_translate_graph())
    ops = [n.op_type for n in model.graph.node]
    assert "ScaleAndTranslate" not in ops
    resize = next(n for n in model.graph.node if n.op_type == "Resize")
    attrs = {a.name: helper.get_attribute_value(a) for a in resize.attribute}
    assert attrs["antialias"] == 1 and attrs["mode"] == b"linear"
    assert attrs["coordinate_transformation_mode"] == b"half_pixel"
    # A 2x downsampling with the triangle kernel averages each 2x2 block's neighbourhood:
    # a constant image stays constant, a step is smoothed, the size halves.
    x = np.zeros((1, 8, 8, 1), np.float32)
    x[:, :, 4:] = 1.0
    y = _session(model).run(None, {"x": x})[0]
    assert y.shape == (1, 4, 4, 1)
    assert y[0, 0, 0, 0] == pytest.approx(0.0) and y[0, 0, 3, 0] == pytest.approx(1.0)
    assert 0.0 < y[0, 0, 1, 0] < y[0, 0, 2, 0] < 1.0


def test_scale_and_translate_with_a_translation_is_refused() -> None:
    model = _scale_and_translate_graph()
    model.graph.initializer[-1].CopyFrom(numpy_helper.from_array(np.ones(2, np.float32),
                                                                 "zeros"))
    with pytest.raises(imp.ImportError_, match="translation"):
        imp.replace_scale_and_translate(model)


def test_canonical_names_are_independent_of_order_and_names() -> None:
    base = imp.replace_scale_and_translate(_scale_and_translate_graph())
    shuffled = onnx.ModelProto()
    shuffled.CopyFrom(base)
    nodes = list(shuffled.graph.node)
    # Independent nodes in the other order, and other internal names.
    nodes[0], nodes[1] = nodes[1], nodes[0]
    rename = {"hw": "other_hw"}
    for n in nodes:
        n.input[:] = [rename.get(i, i) for i in n.input]
        n.output[:] = [rename.get(o, o) for o in n.output]
        n.name = n.name + "_x"
    del shuffled.graph.node[:]
    shuffled.graph.node.extend(nodes)
    a = imp.canonical_names(base).SerializeToString(deterministic=True)
    b = imp.canonical_names(shuffled).SerializeToString(deterministic=True)
    assert a == b
