"""MLM documents per version, versions side by side, the active version, input checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from catalog_schemas import cloudmask as cm
from catalog_schemas.schema_uris import MLM_SCHEMA
from inference.errors import InputMismatchError, ModelNotFoundError
from inference.mlm import mlm_item, spec_from_mlm
from inference.reference import build
from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from inference.spec import minmax_then_centre


def test_mlm_document_has_the_required_mlm_fields(repo: ModelRepository) -> None:
    model = repo.resolve("clc-spectral:1")
    doc = json.loads(model.mlm_path.read_text())
    assert doc["stac_version"] == "1.1.0" and MLM_SCHEMA in doc["stac_extensions"]
    props = doc["properties"]
    for key in ("mlm:name", "mlm:architecture", "mlm:tasks", "mlm:input", "mlm:output"):
        assert key in props  # required in item properties by the MLM 1.5 schema
    assert props["mlm:framework"] == "ONNX" and props["mlm:tasks"] == ["semantic-segmentation"]
    model_in = props["mlm:input"][0]
    assert model_in["bands"] == ["B02", "B03", "B04", "B08"]
    assert [b["name"] for b in props["bands"]] == model_in["bands"]  # bands are declared
    assert model_in["input"]["dim_order"] == ["batch", "bands", "height", "width"]
    assert model_in["input"]["shape"] == [-1, 4, 512, 512]
    out = props["mlm:output"][0]
    assert out["result"]["dim_order"] == ["batch", "class", "height", "width"]
    classes = out["classification:classes"]
    # The classes the versions reach, in grid-code order; the value is the grid code (512: 41).
    assert len(classes) == 10 and classes[-1]["value"] == 41
    assert classes[-1]["description"].startswith("CLC 512") and len(classes[-1]["color_hint"]) == 6
    asset = doc["assets"]["model"]
    assert asset["roles"] == ["mlm:model"] and asset["mlm:artifact_type"] == "onnx"
    assert (model.onnx_path.parent / asset["href"]).resolve() == model.onnx_path.resolve()
    # Hyperparameter keys must match the schema's pattern (no colons).
    assert all(k.replace("_", "").replace("-", "").isalnum()
               for k in props["mlm:hyperparameters"])


def test_spec_round_trips_through_its_mlm_document() -> None:
    spec, _ = build("cloud-scl", "1")
    assert spec_from_mlm(mlm_item(spec, "1.23.2")) == spec
    classes = mlm_item(spec, "1.23.2")["properties"]["mlm:output"][0]["classification:classes"]
    assert [c["value"] for c in classes] == [cm.CLEAR, cm.CLOUD, cm.THIN_CLOUD, cm.SHADOW,
                                             cm.SNOW]


def test_minmax_then_centring_is_one_zscore_per_band() -> None:
    spec, _ = build("clc-spectral", "1")
    scaling = minmax_then_centre([0.0, 0.1, 0.0, 0.0], [0.5, 0.6, 0.4, 1.0],
                                 [0.2, 0.3, 0.4, 0.5])
    scaled = spec.__class__(**{**spec.__dict__, "value_scaling": scaling})
    x = np.random.default_rng(0).uniform(0, 1, (2, 4, 3, 3)).astype(np.float32)
    lo, hi = np.array([0.0, 0.1, 0.0, 0.0]), np.array([0.5, 0.6, 0.4, 1.0])
    mean = np.array([0.2, 0.3, 0.4, 0.5])
    expected = (x - lo[:, None, None]) / (hi - lo)[:, None, None] - mean[:, None, None]
    np.testing.assert_allclose(scaled.prepare(x), expected, rtol=1e-5, atol=1e-6)
    assert spec_from_mlm(mlm_item(scaled, "1.23.2")).value_scaling == scaling


def test_wrong_bands_are_a_clear_error(repo: ModelRepository) -> None:
    spec = repo.resolve("clc-spectral").spec
    with pytest.raises(InputMismatchError, match=r"takes 4 bands \['B02'.*shape \(1, 3, 8, 8\)"):
        spec.prepare(np.zeros((1, 3, 8, 8), np.float32))


def test_versions_side_by_side_and_the_active_one(repo: ModelRepository) -> None:
    first = repo.resolve("cloud-scl")
    spec2 = first.spec.__class__(**{**first.spec.__dict__, "version": "2",
                                    "description": "second"})
    _, graph = build("cloud-scl", "1")
    repo.add_version(spec2, graph)
    assert repo.versions("cloud-scl") == ["1", "2"]
    assert repo.resolve("cloud-scl").spec.version == "2"  # highest by default
    pinned = ModelRepository(repo.root, active_versions={"cloud-scl": "1"})
    assert pinned.resolve("cloud-scl").spec.version == "1"
    assert pinned.resolve("cloud-scl:2").spec.description == "second"
    with pytest.raises(ModelNotFoundError, match="active version '7'"):
        ModelRepository(repo.root, active_versions={"cloud-scl": "7"}).resolve("cloud-scl")


def test_clc_spectral_2_is_beside_1_which_stays_the_default(repo: ModelRepository) -> None:
    assert repo.resolve("clc-spectral").spec.version == "1"  # reference.DEFAULT_ACTIVE
    assert repo.versions("clc-spectral") == ["1", "2", "3"]
    promoted = ModelRepository(repo.root, active_versions={"clc-spectral": "2"})
    spec = promoted.resolve("clc-spectral").spec
    assert spec.version == "2" and 333 in spec.hyperparameters["reachable_classes"]


def test_missing_model_or_version_is_named(repo: ModelRepository) -> None:
    with pytest.raises(ModelNotFoundError, match="no version '9'"):
        repo.resolve("clc-spectral:9")
    with pytest.raises(ModelNotFoundError, match="'clc-unet' is not in the repository"):
        repo.resolve("clc-unet")


def test_resolve_on_an_empty_repository_raises_and_writes_nothing(tmp_path) -> None:  # noqa: ANN001
    repo = ModelRepository(tmp_path / "models")
    with pytest.raises(ModelNotFoundError, match=r"'clc-spectral' is not in the repository .*"
                       r"build it with `earthsig models build clc-spectral`"):
        repo.resolve("clc-spectral")
    with pytest.raises(ModelNotFoundError, match="'clc-unet' is not in the repository [^:]*$"):
        repo.resolve("clc-unet")  # not a reference model: nothing to build
    assert not (tmp_path / "models").exists()
    repo.add_version(*build("clc-spectral", "1"))
    with pytest.raises(ModelNotFoundError, match=r"no version '3'.*earthsig models build"):
        repo.resolve("clc-spectral:3")  # a reference version not built: never built here
    assert repo.versions("clc-spectral") == ["1"]


def test_building_reference_models_is_an_explicit_step(tmp_path) -> None:  # noqa: ANN001
    repo = ModelRepository(tmp_path)
    built = repo.build_references(["clc-spectral:1", "cloud-scl"], only_missing=True)
    assert [m.spec.ref for m in built] == ["clc-spectral:1", "clc-spectral:2",
                                           "clc-spectral:3", "cloud-scl:1"]
    assert repo.resolve("clc-spectral").spec.version == "1"
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("model.onnx")}
    assert repo.build_references(["clc-spectral", "cloud-scl"], only_missing=True) == []
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("model.onnx")} == before
    assert len(repo.build_references(["cloud-scl"])) == 1  # without only_missing: again
    with pytest.raises(ModelNotFoundError, match="no reference model named 'clc-unet'"):
        repo.build_references(["clc-unet"])


def test_an_upgraded_worker_replaces_a_stale_graph(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A repository built before clc-dynamicworld's downsampling became a convolution holds
    the antialiased graph OpenVINO refuses; the infer worker's start-up build replaces it
    (and leaves an up-to-date graph untouched)."""
    from inference import dynamicworld as dw
    from inference.backends import OpenVinoBackend, open_backend
    from inference.errors import InferenceError
    from ingest.orchestration.worker import build_served_references

    monkeypatch.setenv("EARTHSIG_INFERENCE_MODEL_REPOSITORY", str(tmp_path))
    monkeypatch.setenv("EARTHSIG_INFERENCE_DEFAULT_MODEL", "clc-dynamicworld")
    repo = ModelRepository(tmp_path)
    [model] = repo.build_references(["clc-dynamicworld"])
    old = dw.wrap(dw.network(), conv_downsample=False).SerializeToString()
    model.onnx_path.write_bytes(old)  # what an earlier release wrote as version 1
    with pytest.raises(InferenceError, match="antialiased"):
        OpenVinoBackend(model.onnx_path)
    assert build_served_references() == ["clc-dynamicworld:1"]
    assert model.onnx_path.read_bytes() != old
    settings = InferenceSettings(_env_file=None, model_repository=tmp_path)
    assert isinstance(open_backend(repo.resolve("clc-dynamicworld"), settings), OpenVinoBackend)
    before = model.onnx_path.stat().st_mtime_ns
    assert build_served_references() == []
    assert model.onnx_path.stat().st_mtime_ns == before


@pytest.mark.parametrize("device", ["cpu", "gpu"])
def test_config_for_nvidias_triton_names_the_device_and_the_networks_accelerator(
        tmp_path: Path, device: str) -> None:
    """config.pbtxt parses as Triton's ModelConfig; the real model (OpenVINO in process) gets
    OpenVINO on a CPU node and TensorRT on a GPU node, the small models no accelerator."""
    from google.protobuf import text_format
    from tritonclient.grpc.model_config_pb2 import ModelConfig

    settings = InferenceSettings(_env_file=None, model_repository=tmp_path,
                                 triton_device=device)
    repo = ModelRepository.from_settings(settings)
    repo.build_references(["clc-dynamicworld", "cloud-scl"])
    configs = {name: text_format.Parse((tmp_path / name / "config.pbtxt").read_text(),
                                       ModelConfig())
               for name in ("clc-dynamicworld", "cloud-scl")}
    group = ModelConfig().instance_group.add()
    kind = group.KIND_GPU if device == "gpu" else group.KIND_CPU
    for config in configs.values():
        assert config.backend == "onnxruntime" and config.instance_group[0].kind == kind
    accelerators = configs["clc-dynamicworld"].optimization.execution_accelerators
    chosen = (accelerators.gpu_execution_accelerator if device == "gpu"
              else accelerators.cpu_execution_accelerator)
    assert [a.name for a in chosen] == ["tensorrt" if device == "gpu" else "openvino"]
    assert not configs["cloud-scl"].HasField("optimization")
