"""The images and the compose stack under Podman, with no registry and no Docker engine.

``python -m infra.deploy.podman build`` installs what is missing (podman, runc, debootstrap from
Debian unless EARTHSIG_APT_INSTALL is off; podman-compose is in the ``dev`` extra), makes the
base image once with debootstrap (``localhost/debian:bookworm``, from the Debian mirror apt
already uses), and builds the five service images on it with the host's CA bundle mounted for
pip and npm. The Dockerfiles default to ``python:3.11-slim-bookworm`` elsewhere: the base is a
build argument. ``up`` runs compose.yaml with compose.podman.yaml over it on the host's
PostgreSQL and Redis until every service is healthy; ``down`` removes it.

Every podman call here runs with :func:`podman_env`: ``CONTAINERS_CONF`` names
``infra/deploy/containers.conf`` (runc, cgroupfs, no default ulimits), which this machine kind
needs (docs/deployment.md, "Podman").
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click

from infra.apt import apt_install

log = logging.getLogger(__name__)

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parents[1]
BASE_IMAGE = "localhost/debian:bookworm"
SERVICES = ("api", "tiler", "worker", "scheduler", "grpc")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# Where builds see the host's CA bundle (a RUN-time mount, not a layer of the image).
BUILD_CA = "/run/earthsig-host-ca.crt"
DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# runc, cgroupfs, no default ulimits: what this machine kind needs (the file says why).
CONTAINERS_CONF = DEPLOY / "containers.conf"


def podman_env() -> dict[str, str]:
    """This process's environment plus ``CONTAINERS_CONF`` naming the settings above."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *args], env=podman_env(), text=True,
                          capture_output=capture)
    if check and done.returncode != 0:
        raise click.ClickException(f"podman {' '.join(args[:3])} failed (exit "
                                   f"{done.returncode}):\n{(done.stderr or '')[-3000:]}")
    return done


def ensure_tools() -> None:
    from infra.settings import StackSettings

    allowed = StackSettings().apt_install
    for command in ("podman", "runc", "debootstrap"):
        if shutil.which(command) is None:
            apt_install(command, allowed=allowed)
    if shutil.which("podman-compose") is None and not _venv_compose().exists():
        raise click.ClickException("podman-compose is missing: pip install -e '.[dev]'")


def _venv_compose() -> Path:
    return Path(sys.executable).parent / "podman-compose"


def compose_command() -> list[str]:
    found = _venv_compose()
    return [str(found)] if found.exists() else ["podman-compose"]


def debian_mirror(sources: Path = DEBIAN_SOURCES) -> str:
    """The first ``URIs:`` of apt's deb822 sources for Debian itself (not -security)."""
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                uri = line.split(":", 1)[1].split()[0]
                if not uri.rstrip("/").endswith("-security"):
                    return uri
    return DEFAULT_MIRROR


# What Debian's official images set (debuerreotype): apt keeps no downloaded packages.
APT_NO_CACHE = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
"""


def _slim_rootfs(rootfs: Path) -> None:
    """No package lists or downloaded packages in the image (about 80 MB), as upstream's."""
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*"):
        for path in rootfs.glob(pattern):
            if path.is_file():
                path.unlink()
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(APT_NO_CACHE)


def ensure_base_image(suite: str = "bookworm") -> str:
    """``localhost/debian:bookworm`` from debootstrap (minbase), made once."""
    if podman("image", "exists", BASE_IMAGE, check=False).returncode == 0:
        log.info("base image %s exists", BASE_IMAGE)
        return BASE_IMAGE
    started = time.monotonic()
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="earthsig-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log.info("debootstrap %s from %s", suite, mirror)
        subprocess.run(["debootstrap", "--variant=minbase", suite, str(rootfs), mirror],
                       check=True, stdout=subprocess.DEVNULL)
        _slim_rootfs(rootfs)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["podman", "import", "-", BASE_IMAGE], stdin=tar.stdout,
                       env=podman_env(), check=True, stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise click.ClickException("tar of the debootstrap root failed")
    log.info("base image %s made in %.0f s", BASE_IMAGE, time.monotonic() - started)
    return BASE_IMAGE


def image_name(service: str, tag: str = "latest") -> str:
    return f"earthsignature/{service}:{tag}"


def build_args(base: str | None) -> list[str]:
    """The base image (when not the Dockerfiles' default) and the host's CA bundle."""
    # Docker's format keeps HEALTHCHECK (OCI's has none), as `docker build` would.
    args = ["--network", "host", "--format", "docker"]
    if base:
        args += ["--build-arg", f"BASE_IMAGE={base}", "--build-arg", f"NODE_IMAGE={base}"]
    if HOST_CA.exists():
        args += ["--volume", f"{HOST_CA}:{BUILD_CA}:ro",
                 "--build-arg", f"PIP_CERT={BUILD_CA}",
                 "--build-arg", f"NODE_EXTRA_CA_CERTS={BUILD_CA}"]
    return args


def build_image(service: str, base: str | None, tag: str = "latest") -> float:
    """``podman build`` of one service's image; returns the seconds it took."""
    started = time.monotonic()
    replaced = _image_id(image_name(service, tag))
    log.info("building %s on %s", image_name(service, tag), base or "the Dockerfile's base")
    done = subprocess.run(
        ["podman", "build", *build_args(base), "-f", f"infra/deploy/Dockerfile.{service}",
         "--ignorefile", f"infra/deploy/Dockerfile.{service}.dockerignore",
         "-t", image_name(service, tag), "."],
        cwd=ROOT, env=podman_env(), text=True, capture_output=True)
    if done.returncode != 0:
        raise click.ClickException(f"build of {service} failed:\n{done.stdout[-4000:]}\n"
                                   f"{done.stderr[-3000:]}")
    seconds = time.monotonic() - started
    log.info("built %s in %.0f s", image_name(service, tag), seconds)
    if replaced and replaced != _image_id(image_name(service, tag)):
        # The previous build, untagged now: its layers that the new one shares stay (cache).
        podman("rmi", replaced, check=False)
    return seconds


def _image_id(image: str) -> str | None:
    done = podman("image", "inspect", image, "--format", "{{.Id}}", check=False)
    return done.stdout.strip() if done.returncode == 0 else None


@dataclass(frozen=True)
class ImageSize:
    image: str
    bytes: int


def image_sizes(services: tuple[str, ...] = SERVICES, tag: str = "latest") -> list[ImageSize]:
    sizes = []
    for service in services:
        done = podman("image", "inspect", image_name(service, tag), "--format", "{{.Size}}")
        sizes.append(ImageSize(image_name(service, tag), int(done.stdout.strip())))
    return sizes


def build_all(base: str | None, services: tuple[str, ...] = SERVICES) -> dict[str, float]:
    ensure_tools()
    if base == BASE_IMAGE:
        ensure_base_image()
    return {service: build_image(service, base) for service in services}


COMPOSE_FILES = ("compose.yaml", "compose.podman.yaml")
ONE_SHOTS = ("migrate", "models", "grpc-certs")
LONG_RUNNING = ("api", "tiler", "worker-fetch", "worker-infer", "worker-publish", "scheduler",
                "dashboard", "grpc")
PROJECT_LABEL = "io.podman.compose.project"
SERVICE_LABEL = "io.podman.compose.service"


@dataclass(frozen=True)
class ComposeStack:
    """One run of the compose stack: its project name (containers and volumes are named by
    it) and the variables compose.yaml and compose.podman.yaml interpolate."""

    project: str
    variables: dict[str, str]
    files: tuple[str, ...] = COMPOSE_FILES

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        files = [a for f in self.files for a in ("-f", f)]
        done = subprocess.run([*compose_command(), "-p", self.project, *files, *args],
                              cwd=DEPLOY, env={**podman_env(), **self.variables}, text=True,
                              capture_output=True)
        if check and done.returncode != 0:
            raise click.ClickException(f"podman-compose {' '.join(args[:2])} failed:\n"
                                       f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def containers(self, all_states: bool = True) -> dict[str, str]:
        """Container name -> service, of this project."""
        args = ["ps", "--filter", f"label={PROJECT_LABEL}={self.project}", "--format", "json"]
        listed = json.loads(podman(*args, *(["--all"] if all_states else [])).stdout or "[]")
        return {c["Names"][0]: c["Labels"][SERVICE_LABEL] for c in listed}

    def logs(self, container: str, tail: int = 60) -> str:
        done = podman("logs", "--tail", str(tail), container, check=False)
        return (done.stdout or "") + (done.stderr or "")


def host_variables(libpq: dict[str, str], redis_url: str) -> dict[str, str]:
    """What compose.podman.yaml needs to put the stack on the host's PostgreSQL (libpq's PG*
    variables, as compose.yaml's POSTGRES_*) and Redis."""
    return {"PGHOST": libpq.get("PGHOST", "127.0.0.1"), "PGPORT": libpq.get("PGPORT", "5432"),
            "POSTGRES_USER": libpq.get("PGUSER", "earthsig"),
            "POSTGRES_PASSWORD": libpq.get("PGPASSWORD", ""),
            "POSTGRES_DB": libpq.get("PGDATABASE", "earthsig"), "EARTHSIG_REDIS_URL": redis_url}


def _started_at(container: str) -> float:
    done = podman("inspect", container, "--format", "{{.State.StartedAt.UnixMilli}}")
    return int(done.stdout.strip()) / 1000


def run_one_shots(stack: ComposeStack) -> None:
    """compose.yaml's one-shots (pgstac's schema, the model repository), each to exit 0, as
    Compose's ``service_completed_successfully`` wants (podman 4.3 cannot wait on health)."""
    stack.compose("up", "-d", "--no-deps", *ONE_SHOTS)
    for container, service in stack.containers().items():
        if service not in ONE_SHOTS:
            continue
        status = podman("wait", container).stdout.strip()
        if status != "0":
            raise click.ClickException(f"{service} exited {status}:\n{stack.logs(container)}")
        log.info("%s: done", service)


def _first_healthy(container: str, deadline: float) -> float | None:
    """Seconds from the container's start to the end of its first passing health check;
    None past ``deadline`` (monotonic)."""
    started = _started_at(container)
    while time.monotonic() < deadline:
        if podman("healthcheck", "run", container, check=False).returncode == 0:
            return time.time() - started
        time.sleep(0.25)
    return None


def wait_healthy(stack: ComposeStack, timeout_s: float) -> dict[str, float]:
    """Run each long-running container's own health check, all at once, until it passes;
    return per service the seconds from its container's start to its first passing check
    (the slowest replica's). One check takes about a second: that bounds the resolution."""
    containers = {c: s for c, s in stack.containers().items() if s in LONG_RUNNING}
    deadline = time.monotonic() + timeout_s
    with ThreadPoolExecutor(max_workers=len(containers) or 1) as pool:
        seconds = dict(zip(containers, pool.map(lambda c: _first_healthy(c, deadline),
                                                containers), strict=True))
    failed = sorted(c for c, s in seconds.items() if s is None)
    if failed:
        raise click.ClickException(f"not healthy in {timeout_s:.0f} s: {failed}\n" + "\n".join(
            f"--- {c}\n{stack.logs(c, 20)}" for c in failed))
    healthy: dict[str, float] = {}
    for container, service in containers.items():
        healthy[service] = max(healthy.get(service, 0.0), seconds[container] or 0.0)
        log.info("%s healthy %.1f s after its start", container, seconds[container])
    return healthy


def up(stack: ComposeStack, timeout_s: float = 300) -> dict[str, float]:
    """The one-shots, then every long-running service until healthy (what ``docker compose
    up --wait`` does); returns each service's start-up seconds."""
    run_one_shots(stack)
    stack.compose("up", "-d", "--no-deps", *LONG_RUNNING)
    return wait_healthy(stack, timeout_s)


def down(stack: ComposeStack) -> None:
    """Every container and volume of the project, gone."""
    stack.compose("down", "--volumes", "-t", "30", check=False)
    for container in stack.containers():  # what compose did not know, e.g. after a failed up
        podman("rm", "--force", "--volumes", container, check=False)
    for volume in ("assets", "models", "inputs", "grpccerts", "pgdata", "redisdata"):
        podman("volume", "rm", "--force", f"{stack.project}_{volume}", check=False)


@click.group()
def cli() -> None:
    """Build and run EarthSignature's images with Podman (docs/deployment.md)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")


@cli.command()
@click.option("--base", default=BASE_IMAGE, show_default=True,
              help="Base image (build argument BASE_IMAGE); '' for the Dockerfiles' own.")
@click.option("--service", "services", multiple=True, type=click.Choice(SERVICES),
              help="Only these images (repeatable); default: all five.")
def build(base: str, services: tuple[str, ...]) -> None:
    """Install podman if missing, make the base image once, build the service images."""
    seconds = build_all(base or None, services or SERVICES)
    for size in image_sizes(tuple(seconds)):
        click.echo(f"{size.image}: {size.bytes / 1e6:.0f} MB")
    click.echo(json.dumps({s: round(t) for s, t in seconds.items()}))


@cli.command("up")
@click.option("--project", default="earthsignature", show_default=True,
              help="Compose project: containers and volumes are named by it.")
@click.option("--timeout", type=float, default=300, show_default=True,
              help="Seconds for every service to pass its health check.")
def up_command(project: str, timeout: float) -> None:
    """Run compose.yaml under Podman on this host's PostgreSQL and Redis (libpq's PG*
    variables and EARTHSIG_REDIS_URL, e.g. from `earthsig stack env`) until every service is
    healthy; print each service's start-up seconds. Other compose variables (published
    ports, EARTHSIG_ENV_FILE, worker counts) are read from the environment."""
    ensure_tools()
    redis_url = os.environ.get("EARTHSIG_REDIS_URL", "redis://127.0.0.1:6379/0")
    seconds = up(ComposeStack(project, host_variables(dict(os.environ), redis_url)), timeout)
    click.echo(json.dumps({s: round(t, 1) for s, t in sorted(seconds.items())}))


@cli.command("down")
@click.option("--project", default="earthsignature", show_default=True)
def down_command(project: str) -> None:
    """Stop and remove the project's containers and volumes."""
    down(ComposeStack(project, {"POSTGRES_PASSWORD": "not-needed-to-stop"}))


if __name__ == "__main__":
    cli()
