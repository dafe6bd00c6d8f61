"""Offline validation of our STAC documents.

What can be had here: the STAC 1.1 core schemas ship in pystac-core and pystac uses them
offline; the project's own ``clc`` extension schema ships in this package. No package carries
the official extension schemas (projection, raster, classification, file, processing, eo, mlm),
so their fields are checked through pystac's extension classes in the tests instead.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema
import pystac
from pystac.validation import validate_dict

from catalog_schemas import landcover_stats


class ValidationError(ValueError):
    """A STAC document breaks a schema; the message names the schema and the field."""


@cache
def clc_schema() -> dict[str, Any]:
    text = files("catalog_schemas").joinpath("schemas/clc-v1.0.0.json").read_text()
    return json.loads(text)


def validate_item(item: dict[str, Any]) -> None:
    """Core STAC 1.1 item schema plus the ``clc`` extension schema, offline."""
    core = copy.deepcopy(item)
    core["stac_extensions"] = []  # the core schema alone: extension schemas are not here
    try:
        validate_dict(core)
    except pystac.STACValidationError as exc:
        raise ValidationError(f"item {item.get('id')}: STAC core: {exc}") from exc
    if landcover_stats.SCHEMA_URI in item.get("stac_extensions", []):
        errors = sorted(jsonschema.Draft7Validator(clc_schema()).iter_errors(item),
                        key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.path)
            raise ValidationError(f"item {item.get('id')}: clc extension at {where}: "
                                  f"{first.message}")
