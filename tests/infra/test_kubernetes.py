"""The Kubernetes manifests, rendered and validated offline (docs/deploy-kubernetes.md).

Core resources are checked against Kubernetes' own OpenAPI schemas (kubernetes-validate, strict:
an unknown field is an error, as with ``kubectl apply --validate=strict``), KEDA's against the
``openAPIV3Schema`` of KEDA's CRDs (tests/fixtures/keda, v2.20.2), closed the same way. What
cannot run here: a cluster (no API server, no KEDA operator): nothing was ever applied.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from redis import Redis
from rq import Queue

from infra.deploy.kubernetes.render import Options, job_suffix, render, substitute
from ingest.orchestration.stages import worker_queue_names
from ingest.settings import IngestSettings

ROOT = Path(__file__).resolve().parents[2]
KEDA = ROOT / "tests" / "fixtures" / "keda"
# The oldest Kubernetes still commonly run, and the newest the validator knows.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
VARIANTS = {
    "cpu": Options(),
    "gpu": Options(gpu=True),
    "gpu+dashboard": Options(gpu=True, dashboard=True, namespace="eo-prod",
                             image_prefix="registry.example.org/eo/", image_tag="2026.12.1"),
}
# The parameters KEDA v2.20.2's redis scaler reads from a trigger's metadata
# (pkg/scalers/redis_scaler.go, `keda:"name=..., order=triggerMetadata..."`); a name it does
# not know is ignored by KEDA without a word, so a typo would scale on defaults.
REDIS_SCALER_METADATA = {
    "address", "addresses", "addressFromEnv", "host", "hosts", "hostFromEnv", "port", "ports",
    "portFromEnv", "username", "usernameFromEnv", "password", "passwordFromEnv",
    "sentinelUsername", "sentinelPassword", "sentinelMaster", "unsafeSsl", "listLength",
    "activationListLength", "listName", "databaseIndex", "enableTLS",
}


def documents(options: Options) -> list[dict[str, Any]]:
    return [doc for text in render(options).values() for doc in yaml.safe_load_all(text)
            if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _closed(schema: Any) -> Any:
    """The schema with unknown fields refused: the API server prunes them from a CRD's object
    (and strict field validation rejects them), so a misspelt field must fail here too."""
    if isinstance(schema, dict):
        schema = {k: _closed(v) for k, v in schema.items()}
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def crd_validator(file: str) -> jsonschema.Draft7Validator:
    crd = yaml.safe_load((KEDA / file).read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["served"] and v["storage"]]
    schema = _closed(version["schema"]["openAPIV3Schema"])
    return jsonschema.Draft7Validator(schema)


KEDA_VALIDATORS = {
    "ScaledObject": crd_validator("keda.sh_scaledobjects.yaml"),
    "TriggerAuthentication": crd_validator("keda.sh_triggerauthentications.yaml"),
}


def validate(doc: dict[str, Any], version: str) -> None:
    if doc["apiVersion"].startswith("keda.sh/"):
        assert doc["apiVersion"] == "keda.sh/v1alpha1"
        KEDA_VALIDATORS[doc["kind"]].validate(doc)
    else:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_resource_is_valid_for_kubernetes_and_keda(variant: str) -> None:
    docs = documents(VARIANTS[variant])
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "ConfigMap", "PersistentVolumeClaim", "Service", "StatefulSet",
            "Deployment", "Job", "ScaledObject", "TriggerAuthentication"} <= kinds
    assert "Secret" not in kinds  # secrets are created by hand, never committed
    for doc in docs:
        for version in VERSIONS:
            validate(doc, version)


def test_the_validators_refuse_a_misspelt_field() -> None:
    docs = documents(Options())
    infer = copy.deepcopy(by_kind(docs, "Deployment")["worker-infer"])
    infer["spec"]["template"]["spec"]["containers"][0]["comand"] = ["earthsig"]
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(infer, VERSIONS[0])
    scaled = copy.deepcopy(by_kind(docs, "ScaledObject")["worker-infer"])
    scaled["spec"]["minReplicas"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled, VERSIONS[0])
    scaled = copy.deepcopy(by_kind(docs, "ScaledObject")["worker-infer"])
    scaled["spec"]["triggers"][0]["metadata"]["listLength"] = 24  # KEDA wants strings
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled, VERSIONS[0])
    auth = copy.deepcopy(by_kind(docs, "TriggerAuthentication")["earthsig-redis"])
    del auth["spec"]["secretTargetRef"][0]["key"]
    with pytest.raises(jsonschema.ValidationError):
        validate(auth, VERSIONS[0])


def test_placeholders_are_substituted_and_kubernetes_references_kept() -> None:
    options = VARIANTS["gpu+dashboard"]
    files = render(options)
    assert list(files) == sorted(files)  # apply order is file order
    text = "".join(files.values())
    assert "${" not in text
    assert "$(REDIS_PASSWORD)" in text  # Kubernetes expands it in the container
    docs = documents(options)
    assert {d["metadata"].get("namespace", d["metadata"]["name"]) for d in docs} == {"eo-prod"}
    images = {c["image"] for d in docs if d["kind"] in ("Deployment", "Job", "StatefulSet")
              for c in d["spec"]["template"]["spec"]["containers"]}
    ours = {i for i in images if i.startswith("registry.example.org/")}
    assert ours == {f"registry.example.org/eo/{n}:2026.12.1"
                    for n in ("api", "tiler", "worker", "scheduler")}
    assert set(by_kind(docs, "Job")) == {"migrate-2026-12-1", "models-2026-12-1"}


def test_an_unset_placeholder_is_an_error_not_an_empty_value() -> None:
    assert substitute("a: ${A}-$(B)", {"A": "x"}) == "a: x-$(B)"
    with pytest.raises(KeyError):
        substitute("a: ${NOT_SET}", {"A": "x"})


def test_job_names_stay_valid_for_any_tag() -> None:
    assert job_suffix("v1.2.3_RC1") == "v1-2-3-rc1"
    assert job_suffix("___") == "x"
    assert len(job_suffix("a" * 128)) <= 40


def test_the_command_line_renders_files_and_refuses_bad_values(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra.deploy.kubernetes", "render", "--namespace", "eo",
         "--image-tag", "7", "--gpu", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        render(Options(namespace="eo", image_tag="7", gpu=True)))
    assert "nvidia.com/gpu" in (tmp_path / "45-triton.yaml").read_text()
    stream = subprocess.run(
        [sys.executable, "-m", "infra.deploy.kubernetes", "render"],
        capture_output=True, text=True, cwd=ROOT)
    assert stream.returncode == 0
    assert len([d for d in yaml.safe_load_all(stream.stdout) if d]) == len(documents(Options()))
    for bad in (["--namespace", "Earth_Sig"], ["--image-tag", "no spaces"]):
        refused = subprocess.run([sys.executable, "-m", "infra.deploy.kubernetes", "render",
                                  *bad], capture_output=True, text=True, cwd=ROOT)
        assert refused.returncode == 2 and "error:" in refused.stderr


def _served_queues(deployment: dict[str, Any]) -> list[str]:
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    return command[command.index("--queues") + 1].split(",")


def _workers(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, deployment in by_kind(docs, "Deployment").items():
        if name.startswith("worker-"):
            yield name, deployment


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_worker_pool_scales_on_the_lists_of_its_own_queues(variant: str) -> None:
    docs = documents(VARIANTS[variant])
    scaled = by_kind(docs, "ScaledObject")
    auths = by_kind(docs, "TriggerAuthentication")
    settings = IngestSettings(_env_file=None)
    pools = dict(_workers(docs))
    assert set(scaled) == set(pools) == {"worker-fetch", "worker-infer", "worker-publish"}
    for name, deployment in pools.items():
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"] == {"name": name}
        assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
        lists = []
        for trigger in spec["triggers"]:
            assert trigger["type"] == "redis"
            metadata = trigger["metadata"]
            assert set(metadata) <= REDIS_SCALER_METADATA, set(metadata) - REDIS_SCALER_METADATA
            ns = scaled[name]["metadata"]["namespace"]
            assert metadata["address"] == f"redis.{ns}.svc.cluster.local:6379"
            assert int(metadata["listLength"]) >= 1
            assert trigger["authenticationRef"]["name"] in auths
            lists.append(metadata["listName"])
        # RQ's own key of each queue the pool's workers listen on.
        expected = [Queue.redis_queue_namespace_prefix + q
                    for q in worker_queue_names(_served_queues(deployment), settings)]
        assert lists == expected
    [auth] = auths.values()
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": "earthsig", "key": "REDIS_PASSWORD"}]


def test_the_scaled_list_is_where_rq_keeps_a_queues_waiting_jobs(redis_url: str) -> None:
    """The real Redis, the installed RQ: a queued job is one entry of the list KEDA reads."""
    docs = documents(Options())
    scaled = by_kind(docs, "ScaledObject")
    connection = Redis.from_url(redis_url)
    for name, deployment in _workers(docs):
        queues = worker_queue_names(_served_queues(deployment), IngestSettings(_env_file=None))
        for queue, trigger in zip(queues, scaled[name]["spec"]["triggers"],
                                  strict=True):
            key = trigger["metadata"]["listName"]
            assert connection.llen(key) == 0
            Queue(queue, connection=connection).enqueue("builtins.print", "x")
            Queue(queue, connection=connection).enqueue("builtins.print", "y")
            assert connection.llen(key) == 2
    connection.close()


def test_infer_sizing_follows_the_benchmark_figures() -> None:
    docs = documents(Options())
    infer = by_kind(docs, "Deployment")["worker-infer"]["spec"]["template"]["spec"]
    resources = infer["containers"][0]["resources"]
    # 2 cores: the shape of the figures (118-152 s a full tile, OpenVINO, 2 threads).
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == "2"
    # Peak RSS of a full tile: 1.69-1.76 GB (docs/benchmarks.md); the limit leaves room.
    assert _bytes(resources["requests"]["memory"]) >= 1.76e9
    assert _bytes(resources["limits"]["memory"]) >= 1.5 * 1.76e9
    fetch = by_kind(docs, "Deployment")["worker-fetch"]["spec"]["template"]["spec"]
    assert _cpu(fetch["containers"][0]["resources"]["requests"]["cpu"]) < 1  # I/O-bound
    target = int(by_kind(docs, "ScaledObject")["worker-infer"]["spec"]["triggers"][0]
                 ["metadata"]["listLength"])
    # One hour of queued work per replica at the slowest measured tile (152 s).
    assert target == round(3600 / 152)


def _bytes(quantity: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity)


def _cpu(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def test_the_gpu_variant_runs_triton_on_a_gpu_for_the_infer_workers() -> None:
    docs = documents(Options(gpu=True))
    deployments = by_kind(docs, "Deployment")
    triton = deployments["triton"]["spec"]["template"]["spec"]["containers"][0]
    assert triton["resources"]["limits"]["nvidia.com/gpu"] == 1
    service = by_kind(docs, "Service")["triton"]
    assert {p["port"] for p in service["spec"]["ports"]} == {8000, 8001}
    infer_env = {e["name"]: e.get("value") for e in
                 deployments["worker-infer"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert infer_env["EARTHSIG_INFERENCE_BACKEND"] == "triton"
    assert infer_env["EARTHSIG_INFERENCE_TRITON_URL"] == "triton:8001"
    [models] = [j for j in by_kind(docs, "Job").values() if j["metadata"]["name"].startswith(
        "models-")]
    models_env = {e["name"]: e.get("value") for e in
                  models["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert models_env["EARTHSIG_INFERENCE_TRITON_DEVICE"] == "gpu"
    # The CPU variant has no Triton and runs the model in process.
    cpu = documents(Options())
    assert "triton" not in by_kind(cpu, "Deployment")
    cpu_infer = by_kind(cpu, "Deployment")["worker-infer"]["spec"]["template"]["spec"]
    assert "EARTHSIG_INFERENCE_BACKEND" not in {e["name"] for e in
                                                cpu_infer["containers"][0]["env"]}


def test_the_scheduler_is_one_pod_never_two() -> None:
    scheduler = by_kind(documents(Options()), "Deployment")["scheduler"]["spec"]
    assert scheduler["replicas"] == 1
    # A rolling update would run the old and new pod side by side for a while.
    assert scheduler["strategy"] == {"type": "Recreate"}
    assert "scheduler" not in by_kind(documents(Options()), "ScaledObject")


def test_the_guide_states_the_scaling_the_manifests_have() -> None:
    """docs/deploy-kubernetes.md's table of pools, row by row, is what is rendered."""
    guide = (ROOT / "docs" / "deploy-kubernetes.md").read_text()
    for variant, suffix in (("cpu", ""), ("gpu", " (`--gpu`)")):
        for name, scaled in by_kind(documents(VARIANTS[variant]), "ScaledObject").items():
            if variant == "gpu" and name != "worker-infer":
                continue
            spec = scaled["spec"]
            triggers = [t["metadata"] for t in spec["triggers"]]
            targets = triggers[0]["listLength"] if len(triggers) == 1 else ", ".join(
                f"{t['listLength']} (`{t['listName'].rsplit(':', 1)[-1]}`)" for t in triggers)
            row = (f"| `{name}`{suffix} | {targets} | {spec['minReplicaCount']} | "
                   f"{spec['maxReplicaCount']} |")
            assert row in guide, row


def test_applying_again_does_not_fight_the_autoscaler() -> None:
    for variant in VARIANTS.values():
        for name, deployment in _workers(documents(variant)):
            assert "replicas" not in deployment["spec"], name
