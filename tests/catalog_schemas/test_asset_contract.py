"""The asset contract is defined once (catalog_schemas.assets, .schema_uris, .cloudmask).

Every other package imports the asset keys, file names, nodata values, colour-map names, schema
URIs and the SCL table from there: none of them may define a constant of the same name, spell
one of the contract's file names or schema URIs as a literal, or write the confidence nodata
value as a literal ``nodata=``. Checked on the source (AST), so a lazy import or a constant
inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from catalog_schemas import assets, cloudmask, schema_uris

ROOT = Path(__file__).resolve().parents[2]
# Every package of ours but the contract's own, and the benchmarks (they fake published items).
SCANNED = ("tile_generations", "inference", "ingest", "samples", "evaluation", "stac_api",
           "tiler", "infra", "tests/bench")


def _constants(module: object) -> dict[str, object]:
    return {name: value for name, value in vars(module).items() if name.isupper()}


CONTRACT_NAMES = frozenset({*_constants(assets), *_constants(schema_uris), "SCL_TO_CLOUDMASK"})
CONTRACT_LITERALS = frozenset({*assets.LANDCOVER_FILES.values(),
                               *_constants(schema_uris).values()})


def copies(source: str) -> list[str]:
    """What in ``source`` repeats the contract instead of importing it."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        found += [(node.lineno, f"defines {t.id}") for t in targets
                  if isinstance(t, ast.Name) and t.id in CONTRACT_NAMES]
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and node.value in CONTRACT_LITERALS):
            found.append((node.lineno, f"spells {node.value!r}"))
        if (isinstance(node, ast.keyword) and node.arg == "nodata"
                and isinstance(node.value, ast.Constant)
                and node.value.value == assets.CONFIDENCE_NODATA):
            found.append((node.value.lineno, f"nodata={assets.CONFIDENCE_NODATA}"))
    return [f"line {line}: {what}" for line, what in sorted(found)]


@pytest.mark.parametrize("package", SCANNED)
def test_no_package_repeats_the_asset_contract(package: str) -> None:
    files = [f for f in sorted((ROOT / package).rglob("*.py")) if "node_modules" not in f.parts]
    assert files
    found = {str(f.relative_to(ROOT)): copies(f.read_text(encoding="utf-8")) for f in files}
    assert {name: where for name, where in found.items() if where} == {}


def test_the_check_catches_copies() -> None:
    source = ("CONFIDENCE_NODATA = 255\n"
              "def f():\n    name = 'landcover.tif'\n    write(x, nodata=255)\n"
              "MLM_SCHEMA: str = 'https://stac-extensions.github.io/mlm/v1.5.0/schema.json'\n"
              "from catalog_schemas.assets import CLOUDMASK_ASSET\n")
    assert copies(source) == [
        "line 1: defines CONFIDENCE_NODATA", "line 3: spells 'landcover.tif'",
        "line 4: nodata=255", "line 5: defines MLM_SCHEMA",
        "line 5: spells 'https://stac-extensions.github.io/mlm/v1.5.0/schema.json'"]


def test_the_contract_keeps_its_values() -> None:
    """Published items, COGs and tiles depend on these: they never change silently."""
    assert dict(assets.LANDCOVER_FILES) == {
        "landcover": "landcover.tif", "confidence": "confidence.tif",
        "cloudmask": "cloudmask.tif", "polygons": "polygons.parquet",
        "thumbnail": "thumbnail.png"}
    assert (assets.LANDCOVER_NODATA, assets.CONFIDENCE_NODATA, assets.CLOUDMASK_NODATA,
            assets.CHANGE_NODATA) == (0, 255, 0, 0)
    assert (assets.CLC_COLORMAP_NAME, assets.CLOUDMASK_COLORMAP_NAME,
            assets.CHANGE_COLORMAP_NAME) == ("clc", "cloudmask", "clc-change")
    assert cloudmask.SCL_TO_CLOUDMASK == (0, 0, 1, 4, 1, 1, 1, 1, 2, 2, 3, 5)
