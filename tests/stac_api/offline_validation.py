"""stac-api-validator run in-process and offline: STAC core schemas from local copies only.

stac-api-validator (0.6.8) validates every collection and item it meets three ways, and each
would download JSON schemas:

- stac-validator (``StacValidate``, stac-valid 4.2.2) in its default mode: the core schema of
  the object's ``stac_version`` plus one schema per ``stac_extensions`` entry, fetched with
  ``requests`` through ``stac_validator.utilities.fetch_and_parse_schema`` (refs resolved by a
  ``referencing`` registry over the same function). Its own offline hooks are the ``core``
  mode (core schema only) and ``schema_map`` (remote URL -> local file); stac-valid also looks
  for copies bundled under ``stac_validator/local_schemas/``, but its wheel ships none;
- stac-check's ``Linter`` (1.14.0), which validates with ``StacValidate`` again;
- pystac's ``validate()`` on the landing page and its ``child`` links (ours has none; run only
  when nothing else failed): core schemas from pystac-core's local copies, extension schemas
  downloaded.

Neither stac-api-validator nor stac-check passes ``core`` or ``schema_map`` through (they build
``StacValidate(links=True, assets=True, ...)`` themselves) and none reads an environment
variable for schemas, so the one patch here is the name ``StacValidate`` in those two modules,
replaced for the duration of the run by :class:`CoreOfflineStacValidate`: the same class with
its own supported options set, ``core=True`` and ``schema_map=SCHEMA_MAP``. pystac is given
:class:`CoreOnlyValidator` through its supported ``set_validator`` hook.

Covered: every object is validated against the real STAC 1.1.0 core schema (item, collection,
catalog, and what they reference: common metadata, bands, GeoJSON Feature and Geometry), read
from pystac-core's copies of the official documents. Not covered: extension schemas (eo, grid,
projection, render, ...): no installed package carries them, and they are not faked.
Our own ``clc`` extension schema is local (catalog_schemas/schemas/) and is checked separately
with :func:`validate_clc`, stac-validator's ``custom`` mode over the same schema map.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import stac_check.lint
from pystac.validation import JsonSchemaSTACValidator, RegisteredValidator, set_validator
from stac_api_validator import validations
from stac_api_validator.validations import QueryConfig, validate_api
from stac_validator import utilities as stac_validator_utilities
from stac_validator.validate import StacValidate

from catalog_schemas import landcover_stats

STAC = "https://schemas.stacspec.org/v1.1.0"
_PYSTAC = Path(str(files("pystac.validation.jsonschemas")))
_ITEM_SPEC_PARTS = ("bands", "basics", "common", "data-values", "datetime", "instrument",
                    "licensing", "provider")

# Remote schema URL -> local copy of that very document. Core STAC 1.1.0 as pystac-core ships
# it (the same documents pystac validates against offline), and our clc extension.
SCHEMA_MAP: dict[str, str] = {
    **{f"{STAC}/{name}-spec/json-schema/{name}.json": str(_PYSTAC / f"stac-spec/v1.1.0/{name}.json")
       for name in ("item", "collection", "catalog")},
    **{f"{STAC}/item-spec/json-schema/{name}.json": str(_PYSTAC / f"stac-spec/v1.1.0/{name}.json")
       for name in _ITEM_SPEC_PARTS},
    **{f"https://geojson.org/schema/{name}.json": str(_PYSTAC / f"geojson/{name}.json")
       for name in ("Feature", "Geometry")},
    landcover_stats.SCHEMA_URI: str(
        Path(str(files("catalog_schemas"))) / "schemas" / "clc" / "v1.0.0" / "schema.json"
    ),
}
CORE_SCHEMAS = {SCHEMA_MAP[f"{STAC}/{name}-spec/json-schema/{name}.json"]: name
                for name in ("item", "collection", "catalog")}


class CoreOfflineStacValidate(StacValidate):
    """``StacValidate`` in its core mode with the local schema map, whatever its caller asks.

    Records the core schema each object was validated against (:attr:`validated`), so that a
    run can show it validated something, and against which local file.
    """

    validated: ClassVar[list[str] | None] = None  # set for a run by :func:`_offline`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # StacValidate rewrites the map it is given in place: each instance gets a copy.
        super().__init__(*args, **{**kwargs, "core": True, "schema_map": dict(SCHEMA_MAP)})

    def core_validator(self, stac_type: str) -> None:
        super().core_validator(stac_type)
        if self.validated is not None:
            self.validated.append(self.schema)


class CoreOnlyValidator(JsonSchemaSTACValidator):
    """pystac's JSON-schema validator, core objects only: extensions are not validated.

    ``validate_extension`` may return ``None`` ("no validation occurred") by pystac's contract.
    Records the core schema URI of each object it validated (:attr:`validated`).
    """

    def __init__(self) -> None:
        super().__init__()
        self.validated: list[str] = []

    def validate_core(self, *args: Any, **kwargs: Any) -> str | None:
        uri = super().validate_core(*args, **kwargs)
        if uri is not None:
            self.validated.append(uri)
        return uri

    def validate_extension(self, *args: Any, **kwargs: Any) -> None:
        return None


# What /conformance must declare for each class validated. stac-api-validator 0.6.8 checks
# core, collections, features and item-search itself (CORE-4, CORE-7..9) but runs its filter
# checks only when the API declares item-search#filter, and its CQL2 queries only for the CQL2
# classes declared: a missing one would pass unnoticed.
CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf"
DECLARED: dict[str, tuple[re.Pattern[str], ...]] = {
    "core": (validations.cc_core_regex,),
    "collections": (validations.cc_collections_regex,),
    "features": (validations.cc_features_regex,),
    "item-search": (validations.cc_item_search_regex,),
    "filter": (validations.cc_item_search_filter_regex,
               *(re.compile(re.escape(f"{CQL2}/{c}")) for c in ("basic-cql2", "cql2-text",
                                                                  "cql2-json"))),
}


def _readable(pattern: re.Pattern[str]) -> str:
    return pattern.pattern.replace("(.+)", "<version>").replace("\\", "")


def undeclared(conforms_to: list[str], classes: tuple[str, ...]) -> list[str]:
    """One message per conformance class of ``classes`` that ``conforms_to`` does not declare."""
    return [f"[conformance] {name} validated but {_readable(pattern)} not in conformsTo"
            for name in classes
            for pattern in DECLARED.get(name, ())
            if not any(pattern.fullmatch(c) for c in conforms_to)]


@dataclass
class Report:
    """What one stac-api-validator run found and which local core schemas it used."""

    errors: list[str]
    warnings: list[str]
    # core schema name -> objects stac-validator / stac-check validated against it
    validated: dict[str, int] = field(default_factory=dict)
    pystac_validated: list[str] = field(default_factory=list)  # core schema URIs
    remote_schemas: list[str] = field(default_factory=list)


@contextmanager
def _offline() -> Iterator[tuple[list[str], CoreOnlyValidator]]:
    previous = RegisteredValidator.get_validator()
    validated: list[str] = []
    pystac_validator = CoreOnlyValidator()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CoreOfflineStacValidate, "validated", validated)
        mp.setattr(validations, "StacValidate", CoreOfflineStacValidate)
        mp.setattr(stac_check.lint, "StacValidate", CoreOfflineStacValidate)
        set_validator(pystac_validator)
        try:
            yield validated, pystac_validator
        finally:
            set_validator(previous)


def run_stac_api_validator(
    root_url: str, conformance: tuple[str, ...], collection: str, geometry: str
) -> Report:
    """stac-api-validator's ``validate_api`` (what its CLI runs) with schemas from local files,
    plus the conformance declarations it does not check itself (:data:`DECLARED`)."""
    with _offline() as (validated, pystac_validator):
        warnings, errors = validate_api(
            root_url=root_url,
            ccs_to_validate=list(conformance),
            collection=collection,
            geometry=geometry,
            auth_bearer_token=None,
            auth_query_parameter=None,
            fields_nested_property=None,
            validate_pagination=True,
            query_config=QueryConfig(*[None] * 13),
            transaction_collection=None,
            headers=None,
        )
    conforms_to = httpx.get(root_url).json().get("conformsTo", [])
    counts: dict[str, int] = {}
    for schema in validated:
        name = CORE_SCHEMAS.get(schema, schema)
        counts[name] = counts.get(name, 0) + 1
    # Every schema stac-validator loaded in this process (the set behind its "Fetching schema"
    # log): none may be a URL, i.e. nothing was downloaded, refs included.
    remote = sorted(s for s in stac_validator_utilities._cached_schemas
                    if stac_validator_utilities.is_url(s))
    return Report(errors=[*errors, *undeclared(conforms_to, conformance)],
                  warnings=list(warnings), validated=counts,
                  pystac_validated=pystac_validator.validated, remote_schemas=remote)


def validate_clc(item: dict[str, Any]) -> list[str]:
    """stac-validator's ``custom`` mode: ``item`` against our clc extension schema, offline."""
    validator = StacValidate(custom=landcover_stats.SCHEMA_URI, schema_map=dict(SCHEMA_MAP))
    if validator.validate_dict(item):
        return []
    return [str(m.get("error_message", m)) for m in validator.message]
