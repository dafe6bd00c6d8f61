"""The HTTP bindings fuzzed as the STAC API is (tests/fuzzing.py): schemathesis over their own
OpenAPI document, a bounded, reproducible run; no input may give a 5xx, and what the schema
allows must be answered as documented. Served in plaintext on loopback (the same app; TLS is
tested in test_service.py)."""

from __future__ import annotations

import os
from typing import Any

import schemathesis
import shapely
from schemathesis.checks import content_type_conformance
from schemathesis.schemas import APIOperation

from tests.fuzzing import NO_SERVER_ERROR, FuzzReport, Variant, fuzz_schema
from tests.grpc_api.conftest import Service

MAX_EXAMPLES = int(os.environ.get("EARTHSIG_FUZZ_EXAMPLES", "12"))


def test_the_http_bindings_survive_their_own_schema(plaintext_http: str,
                                                    service: Service) -> None:
    x0, y0, x1, y1 = service.items[0]["bbox"]
    small = shapely.box(x0 + (x1 - x0) * 0.45, y0 + (y1 - y0) * 0.45, x0 + (x1 - x0) * 0.55,
                        y0 + (y1 - y0) * 0.55).wkt

    def known(operation: APIOperation) -> tuple[dict[str, Any], dict[str, Any]] | None:
        # Real values, so the generated rest reaches the catalog and the COGs.
        if operation.path.endswith(":list"):
            return {}, {"wkt": small}
        return {}, {"query": "products of 2024-07-21", "wkt": small}

    checks = [*NO_SERVER_ERROR, content_type_conformance]
    variants = [Variant("positive", schemathesis.GenerationMode.POSITIVE, checks),
                Variant("known", schemathesis.GenerationMode.POSITIVE, checks, fixed=known),
                Variant("negative", schemathesis.GenerationMode.NEGATIVE, NO_SERVER_ERROR)]
    schema = schemathesis.openapi.from_url(f"{plaintext_http}/openapi.json")
    report: FuzzReport = fuzz_schema(schema, plaintext_http, variants,
                                     max_examples=MAX_EXAMPLES)
    print(report.summary(), report.by_variant)
    assert report.requests > 0
    assert not report.failures, "\n".join(report.failures)
