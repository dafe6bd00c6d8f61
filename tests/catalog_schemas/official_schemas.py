"""Validation against the official STAC extension schemas, offline.

The schemas are copies from the stac-extensions repositories (tests/fixtures/stac_extensions/,
with their licence and sources) and our own (catalog_schemas/schemas/); GeoJSON's come from
pystac's own copies. Each schema URL a
document declares is checked with jsonschema through a ``referencing`` registry holding only
these files, so a ``$ref`` to anything else fails instead of reaching the network.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

FIXTURES = Path(__file__).parents[1] / "fixtures" / "stac_extensions"
OURS = Path(__file__).parents[2] / "catalog_schemas" / "schemas"  # clc, earthsig
GEOJSON = Path(str(files("pystac.validation.jsonschemas"))) / "geojson"
# Declared by our documents (pystac declares it on classified assets) but not in the
# stored snapshot of its repository: the only one left unchecked, named by the test.
UNAVAILABLE = frozenset({"https://stac-extensions.github.io/classification/v2.0.0/schema.json"})


def _key(url: str) -> str:
    return url.rstrip("#")


def _schemas() -> dict[str, dict[str, Any]]:
    """URL -> schema. A copy is known by the URL its file name says (``<name>-<tag>.json``):
    processing's v1.1.0 release still carries the $id of v1.0.0."""
    found = {}
    for path in FIXTURES.glob("*.json"):
        name, _, tag = path.stem.rpartition("-")
        found[f"https://stac-extensions.github.io/{name}/{tag}/schema.json"] = json.loads(
            path.read_text())
    for path in [*OURS.glob("*/*/schema.json"), GEOJSON / "Geometry.json",
                 GEOJSON / "Feature.json"]:
        schema = json.loads(path.read_text())
        found[_key(schema["$id"])] = schema
    return found


SCHEMAS = _schemas()
REGISTRY: Registry = Registry().with_resources(
    (url, Resource.from_contents(schema, default_specification=DRAFT7))
    for url, schema in SCHEMAS.items())


def extension_errors(document: dict[str, Any]) -> dict[str, list[str]]:
    """Per declared extension schema, the errors of ``document`` against it (an empty list:
    valid). A declared schema with no copy here (outside :data:`UNAVAILABLE`) is an error."""
    found: dict[str, list[str]] = {}
    for url in document.get("stac_extensions", []):
        if url in UNAVAILABLE:
            continue
        schema = SCHEMAS.get(_key(url))
        if schema is None:
            found[url] = ["no copy of this schema in tests/fixtures/stac_extensions"]
            continue
        validator = jsonschema.Draft7Validator(schema, registry=REGISTRY)
        found[url] = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                      for e in sorted(validator.iter_errors(document), key=str)]
    return found
