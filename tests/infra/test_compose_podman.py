"""compose.podman.yaml changes only what it says it changes (podman-compose's own merge).

The stack it makes is run for real by ``make test-containers``; this checks, in a second and
without containers, that the override keeps compose.yaml's images, commands and volumes, and
that its health checks read ports the services are given. podman-compose needs the podman
binary to answer ``podman version``: without podman installed, skipped.
"""

from __future__ import annotations

import shutil

import pytest
import yaml

from infra.deploy import podman

pytestmark = pytest.mark.skipif(shutil.which("podman") is None,
                                reason="podman-compose needs podman (make containers)")
REGISTRY_ONLY = {"database", "redis", "triton"}


def _config(*files: str) -> dict:
    variables = {"POSTGRES_PASSWORD": "secret", "EARTHSIG_DASHBOARD_PUBLISHED_PORT": "9999",
                 "EARTHSIG_GRPC_PUBLISHED_PORT": "9998"}
    done = podman.ComposeStack("earthsig-config", variables, files).compose("config")
    return yaml.safe_load(done.stdout)["services"]


@pytest.fixture(scope="module")
def services() -> tuple[dict, dict]:
    return _config("compose.yaml"), _config(*podman.COMPOSE_FILES)


def test_registry_only_services_are_left_out_and_the_rest_run(services: tuple[dict, dict]
                                                               ) -> None:
    compose, local = services
    assert set(local) == set(compose) - REGISTRY_ONLY
    assert set(local) == set(podman.ONE_SHOTS) | set(podman.LONG_RUNNING)


def test_images_commands_and_volumes_are_compose_s(services: tuple[dict, dict]) -> None:
    compose, local = services
    for name, service in local.items():
        assert service["image"] == compose[name]["image"], name
        assert service.get("volumes") == compose[name].get("volumes"), name
        if name not in ("dashboard", "grpc"):  # they bind loopback, below
            assert service.get("command") == compose[name].get("command"), name
    assert local["dashboard"]["command"][-1].startswith("exec rq-dashboard --bind 127.0.0.1")
    assert local["grpc"]["command"] == ["earthsig", "serve", "grpc", "--host", "127.0.0.1"]


def test_host_network_loopback_servers_and_their_health_checks(services: tuple[dict, dict]
                                                                ) -> None:
    _, local = services
    for name, service in local.items():
        assert service["network_mode"] == "host" and not service.get("ports"), name
        assert service["hostname"] == name  # a worker's health check finds its own workers
        environment = service.get("environment", {})
        if "RQ_DASHBOARD_REDIS_URL" not in environment:
            assert environment["PGHOST"] == "127.0.0.1", name
        test = service.get("healthcheck", {}).get("test", [])
        if "loopback" in test:
            variable = test[test.index("loopback") + 1]
            assert environment[variable].isdigit(), (name, variable)
    assert local["api"]["environment"]["EARTHSIG_API_HOST"] == "127.0.0.1"
    assert local["tiler"]["environment"]["EARTHSIG_TILER_HOST"] == "127.0.0.1"
    assert local["dashboard"]["environment"]["RQ_DASHBOARD_PORT"] == "9999"
    # The gRPC health check reads EARTHSIG_GRPC_PORT (infra/deploy/health.py).
    assert local["grpc"]["environment"]["EARTHSIG_GRPC_PORT"] == "9998"
    assert local["grpc"]["healthcheck"]["test"][-1] == "grpc"
    assert local["worker-infer"]["environment"]["EARTHSIG_INFERENCE_BACKEND"] == "onnxruntime"
