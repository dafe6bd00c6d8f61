"""schemathesis over the tiler's own OpenAPI document: no 5xx, and answers that conform.

A real uvicorn tiler serves a real pgstac database holding the landcover collection, one item
whose COG lies under the tiler's asset root, and a registered search. Bounded and
derandomized (see :mod:`tests.fuzzing`): the same requests on every run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import Case, CheckContext, GenerationMode, Response
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)
from schemathesis.schemas import APIOperation, BaseSchema

from tests.fuzzing import NO_SERVER_ERROR, FuzzReport, Variant, fuzz_schema
from tests.tiler.landcover_data import WATER_SPOT
from tests.tiler.served import ITEM_ID, ServedTiler, serve_one_item
from tests.tiles import tile_of

# Cases per operation and variant; EARTHSIG_FUZZ_EXAMPLES raises it for a longer hunt.
MAX_EXAMPLES = int(os.environ.get("EARTHSIG_FUZZ_EXAMPLES", "6"))
# The web map's HTML page needs the npm packages; it is not what this fuzz is about.
SKIPPED_PATHS = {"/map", "/map/"}


@pytest.fixture(scope="module")
def fuzz_tiler(module_pgstac_dsn: str) -> Iterator[ServedTiler]:
    # A fixed asset path: the COG's url is part of the generated requests, and pytest's
    # numbered temporary folders would make each run draw different ones.
    slot = os.environ.get("EARTHSIG_TEST_SLOT", "0")
    root = Path(tempfile.gettempdir()) / f"earthsig-fuzz-{slot}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    try:
        yield from serve_one_item(module_pgstac_dsn, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _known_ids(tiler: ServedTiler) -> Any:
    tile = tile_of(WATER_SPOT, 14)
    values = {
        "collection_id": "landcover", "item_id": ITEM_ID, "search_id": tiler.search_id,
        "tileMatrixSetId": "WebMercatorQuad", "z": tile.z, "x": tile.x, "y": tile.y,
        "lon": WATER_SPOT.lon, "lat": WATER_SPOT.lat,
    }

    def known(operation: APIOperation) -> tuple[dict[str, Any], dict[str, Any]]:
        names = {p.name for p in operation.path_parameters}
        query = {"url": str(tiler.cog)} if operation.path.startswith("/cog/") else {}
        return {k: v for k, v in values.items() if k in names}, query

    return known


def _titiler_error_shape(response: Response) -> bool:
    """A 422 in titiler's error shape, ``{"detail": "message"}``.

    FastAPI documents every 422 as its request-validation shape (``detail``: a list of
    ``{loc, msg, type}``); titiler answers the pydantic errors its dependencies raise (a CQL2
    filter or search it cannot parse) with a string detail, as all its errors.
    """
    if response.status_code != 422:
        return False
    try:
        return isinstance(response.json().get("detail"), str)
    except ValueError:
        return False


def _conforms(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    if _titiler_error_shape(response):
        return None
    return response_schema_conformance(ctx, response, case)


POSITIVE_CHECKS = [not_a_server_error, _conforms, content_type_conformance]


def _without_tuples(node: Any) -> Any:
    """The document with JSON-Schema tuples (``prefixItems``) loosened to ``items: anyOf``.

    The document is valid OpenAPI 3.1 (rio-tiler's ``Info.band_descriptions`` is a list of
    (name, description) pairs), but schemathesis 4.32 rewrites ``prefixItems`` into the
    draft-4 ``items: [...]`` form for response validation and then rejects that form as an
    invalid 3.1 schema, failing every info response. Pairs of strings stay pairs of strings.
    """
    if isinstance(node, list):
        return [_without_tuples(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _without_tuples(v) for k, v in node.items()}
    if "prefixItems" in out:
        out["items"] = {"anyOf": out.pop("prefixItems")}
    return out


def tiler_schema(url: str) -> BaseSchema:
    document = httpx.get(f"{url}/api", timeout=30).raise_for_status().json()
    return schemathesis.openapi.from_dict(_without_tuples(document))


def test_the_tiler_survives_its_own_schema(fuzz_tiler: ServedTiler) -> None:
    url = fuzz_tiler.url
    schema = tiler_schema(url)
    variants = [
        Variant("positive", GenerationMode.POSITIVE, POSITIVE_CHECKS),
        Variant("known", GenerationMode.POSITIVE, POSITIVE_CHECKS,
                fixed=_known_ids(fuzz_tiler)),
        Variant("negative", GenerationMode.NEGATIVE, NO_SERVER_ERROR),
    ]
    report: FuzzReport = fuzz_schema(schema, url, variants, max_examples=MAX_EXAMPLES,
                                     skip=lambda op: op.path in SKIPPED_PATHS)
    print(report.summary(), report.by_variant)
    assert report.requests > 0
    assert not report.failures, "\n".join(report.failures)
