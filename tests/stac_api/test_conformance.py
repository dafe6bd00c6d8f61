"""stac-api-validator against the running API: core, collections, features, item-search, filter.

stac-api-validator runs in-process (its ``validate_api``, what its CLI runs) with every JSON
schema read from local copies of the official documents (:mod:`.offline_validation`), and must
report no error at all. What that covers and what it does not: docs/search.md, Conformance.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

pytest.importorskip("stac_api_validator")

from tests.stac_api.offline_validation import (  # noqa: E402 (after the importorskip)
    SCHEMA_MAP,
    CoreOfflineStacValidate,
    run_stac_api_validator,
    undeclared,
    validate_clc,
)

# The stac-api-validator CLI's classes, plus features#filter (collection queryables), which
# validate_api runs though the CLI does not offer it.
CLASSES = ("core", "collections", "features", "item-search", "filter", "features#filter")
MONTPELLIER_POINT = '{"type": "Point", "coordinates": [3.87, 43.6]}'


def test_stac_api_validator_reports_no_error(api_url: str) -> None:
    report = run_stac_api_validator(api_url, CLASSES, "landcover", MONTPELLIER_POINT)
    assert report.errors == [], "\n".join(report.errors)
    # It did validate, against the local core schemas: collection and items with stac-validator
    # and stac-check, the landing page with pystac (which stac-api-validator runs only when it
    # found no error); and downloaded no schema.
    assert report.validated.keys() >= {"item", "collection"}, report.validated
    assert [uri.rsplit("/", 1)[1] for uri in report.pystac_validated] == ["catalog.json"]
    assert report.remote_schemas == []


def test_missing_conformance_class_is_an_error() -> None:
    conforms_to = ["https://api.stacspec.org/v1.0.0/core",
                   "https://api.stacspec.org/v1.0.0/item-search",
                   "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text"]
    missing = undeclared(conforms_to, ("core", "item-search", "filter"))
    assert len(missing) == 3, missing
    assert all(m.startswith("[conformance] filter") for m in missing)


def test_core_schema_is_enforced_offline(api_url: str) -> None:
    item = httpx.get(f"{api_url}/collections/landcover/items").json()["features"][0]
    assert CoreOfflineStacValidate().validate_dict(dict(item))
    broken = {**item, "properties": {**item["properties"], "datetime": "15 June 2024"}}
    validator = CoreOfflineStacValidate()
    assert not validator.validate_dict(broken)
    assert validator.message[0]["error_type"] == "JSONSchemaValidationError"
    assert "datetime" in validator.message[0]["error_message"]


def test_items_served_match_the_clc_extension_schema(api_url: str) -> None:
    items = httpx.get(f"{api_url}/collections/landcover/items").json()["features"]
    assert len(items) == 2
    for item in items:
        assert validate_clc(item) == [], item["id"]


def test_clc_validation_finds_a_broken_item(api_url: str) -> None:
    item = httpx.get(f"{api_url}/collections/landcover/items").json()["features"][0]
    item["properties"]["clc:classes"] = [311]  # codes are strings
    errors = validate_clc(item)
    assert len(errors) == 1 and "311 is not of type 'string'" in errors[0], errors


def test_schema_map_points_at_existing_local_copies() -> None:
    assert all(Path(p).is_file() for p in SCHEMA_MAP.values())
