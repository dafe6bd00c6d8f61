"""Offline validation of our STAC documents.

What can be had here: the STAC 1.1 core schemas ship in pystac-core and pystac uses them
offline; the project's own extension schemas ship in this package (``clc``, declared by
landcover items; ``earthsig``, declared by none: every item is checked against it). No package
carries the official extension schemas (projection, raster, classification, file, processing,
eo, mlm), so their fields are checked through pystac's extension classes in the tests instead.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pystac
from pystac.validation import validate_dict

from catalog_schemas import clc_extension, earthsig_extension


class ValidationError(ValueError):
    """A STAC document breaks a schema; the message names the schema and the field."""


def validate_item(item: dict[str, Any]) -> None:
    """Core STAC 1.1 item schema plus the project's extension schemas, offline."""
    core = copy.deepcopy(item)
    core["stac_extensions"] = []  # the core schema alone: extension schemas are not here
    try:
        validate_dict(core)
    except pystac.STACValidationError as exc:
        raise ValidationError(f"item {item.get('id')}: STAC core: {exc}") from exc
    if clc_extension.SCHEMA_URI in item.get("stac_extensions", []):
        _validate(item, "clc", clc_extension.schema())
    _validate(item, "earthsig", earthsig_extension.schema())


def extension_errors(item: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Where ``item`` breaks an extension ``schema``: ``"<path>: <message>"``, path order."""
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(item),
                    key=lambda e: [str(p) for p in e.path])
    return [f"{'/'.join(str(p) for p in e.path)}: {e.message}" for e in errors]


def _validate(item: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    errors = extension_errors(item, schema)
    if errors:
        raise ValidationError(f"item {item.get('id')}: {name} extension at {errors[0]}")
