"""The arrows between the top-level packages point one way (docs/architecture.md).

Serving (``stac_api``, ``tiler``) never imports the pipeline (``ingest``) or the model service
(``inference``); ``inference`` never imports ``ingest``; ``catalog_schemas`` and
``tile_generations`` (the tile store's change tokens, shared by the catalog's writers and the
tiler) import no other package of ours; the pipeline never imports the sample generator
(``samples``) or the evaluation (``evaluation``), which sit beside it for the demo and the
tests; only ``infra`` ties everything together. Every ``import`` statement counts,
also those inside functions (imported lazily is imported all the same).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("catalog_schemas", "tile_generations", "inference", "ingest", "samples", "evaluation",
            "stac_api", "tiler", "infra")
# What each package may import besides itself.
ALLOWED = {
    "catalog_schemas": set(),
    "tile_generations": set(),
    "inference": {"catalog_schemas"},
    "ingest": {"catalog_schemas", "tile_generations", "inference"},
    "samples": {"catalog_schemas", "inference", "ingest"},
    "evaluation": {"catalog_schemas", "inference", "ingest", "samples"},
    "stac_api": {"catalog_schemas", "tile_generations"},
    "tiler": {"catalog_schemas", "tile_generations"},
    "infra": {"catalog_schemas", "tile_generations", "inference", "ingest", "samples",
              "evaluation", "stac_api", "tiler"},
}


def imported_packages(source: str) -> set[str]:
    """Our top-level packages that a module's source imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[0] for n in names if n.split(".")[0] in PACKAGES}
    return found


def violations(package: str, sources: dict[str, str]) -> list[str]:
    """``"<file> imports <package>"`` for each import ``package``'s modules may not make."""
    return [f"{name} imports {other}" for name, source in sorted(sources.items())
            for other in sorted(imported_packages(source) - {package})
            if other not in ALLOWED[package]]


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_it_may(package: str) -> None:
    files = [f for f in sorted((ROOT / package).rglob("*.py")) if "node_modules" not in f.parts]
    assert files
    sources = {str(f.relative_to(ROOT)): f.read_text(encoding="utf-8") for f in files}
    assert violations(package, sources) == []


def test_the_contract_catches_a_serving_import_of_the_pipeline() -> None:
    source = ("from catalog_schemas import clc\n"
              "def f():\n    from ingest.pipeline import process_product\n"
              "import inference.repository\n")
    assert violations("tiler", {"tiler/probe.py": source}) == [
        "tiler/probe.py imports inference", "tiler/probe.py imports ingest"]
    assert violations("ingest", {"ingest/probe.py": source}) == []
    assert violations("catalog_schemas", {"catalog_schemas/probe.py": source}) == [
        "catalog_schemas/probe.py imports inference", "catalog_schemas/probe.py imports ingest"]
