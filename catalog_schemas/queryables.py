"""The queryables of the landcover collection: what a CQL2 filter or a sort may name.

A queryables document is the JSON Schema the STAC filter extension serves at
``/collections/landcover/queryables``. pgstac reads it for more than display: the ``type`` of each
property picks the function pgstac reads the property through (``number`` -> ``to_float``, so
``clc:fraction_311 > 0.2`` and sorting compare numbers, not text; ``array`` -> ``to_text_array``
for ``a_contains`` and friends). pgstac 0.10 knows only ``id``, ``geometry`` and ``datetime``
until these are registered.

Built from the CLC legend, pystac-free and database-free: registering it is the caller's job
(``ingest.catalog.queryables.register_queryables``, called by ``ingest.catalog.register``
whenever the collection definition changes).
"""

from __future__ import annotations

from typing import Any

from catalog_schemas import clc, landcover_stats
from catalog_schemas.earthsig_extension import MODEL, SOURCE_PRODUCT

JSON_SCHEMA = "https://json-schema.org/draft/2019-09/schema"
CLOUD_COVER = "eo:cloud_cover"

# Worth an index: filters that users write on every search. The 44 fractions are not (an index
# each would slow every load for filters that the classes array already narrows).
INDEXED = (landcover_stats.CLASSES, CLOUD_COVER, SOURCE_PRODUCT)


def _fraction(title: str, description: str) -> dict[str, Any]:
    return {
        "title": title,
        "description": description,
        "type": "number",
        "minimum": 0,
        "maximum": 1,
    }


def _class_fractions() -> dict[str, dict[str, Any]]:
    return {
        landcover_stats.fraction_key(c.clc_code): _fraction(
            f"Share of {c.name} ({c.clc_code})",
            f"Share of the valid pixels classified {c.clc_code} {c.name} ({c.level2}, "
            f"{c.level1}), 0-1; absent when the class is absent.",
        )
        for c in clc.clc_classes()
    }


def landcover_properties() -> dict[str, dict[str, Any]]:
    """Property name -> JSON Schema of each queryable beyond pgstac's id/geometry/datetime."""
    codes = [str(c.clc_code) for c in clc.clc_classes()]
    return {
        landcover_stats.CLASSES: {
            "title": "CLC classes present",
            "description": (
                "CORINE Land Cover level-3 codes present in the item, as strings "
                "(write a_contains(clc:classes, ('311')), not (311))."
            ),
            "type": "array",
            "items": {"type": "string", "enum": codes},
        },
        landcover_stats.VALID_FRACTION: _fraction(
            "Valid fraction", "Share of the footprint with usable (not nodata, not cloud) pixels."
        ),
        **_class_fractions(),
        CLOUD_COVER: {
            "title": "Cloud cover",
            "description": "Cloud cover of the source Sentinel-2 product, percent.",
            "type": "number",
            "minimum": 0,
            "maximum": 100,
        },
        SOURCE_PRODUCT: {
            "title": "Source product",
            "description": "Id of the Sentinel-2 product the land cover was computed from.",
            "type": "string",
        },
        MODEL: {
            "title": "Model",
            "description": "Segmentation model as name:version.",
            "type": "string",
        },
        "grid:code": {"title": "Grid code", "description": "MGRS tile, e.g. MGRS-31TCJ.",
                      "type": "string"},
        "platform": {"title": "Platform", "description": "sentinel-2a, sentinel-2b, ...",
                     "type": "string"},
        "constellation": {"title": "Constellation", "type": "string"},
    }


def landcover_queryables() -> dict[str, Any]:
    """The whole queryables document (the form pgstac's ``upsert_queryables`` loads)."""
    return {
        "$schema": JSON_SCHEMA,
        "type": "object",
        "title": "EarthSignature land-cover queryables",
        "properties": landcover_properties(),
        "additionalProperties": False,
    }
