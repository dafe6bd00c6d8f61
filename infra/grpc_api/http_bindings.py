"""The HTTP bindings of the old API: ``GET /v1/segmentation:list`` and ``:search`` (and
``/v2/...``), the request's fields as query parameters, the responses in protobuf's JSON
mapping, one ``{"result": ...}`` object a line (``application/x-ndjson``, as grpc-gateway
streams). Errors are ``{code, description}`` with 400 (INVALID_ARGUMENT) or 413
(RESOURCE_EXHAUSTED), before any result is sent. Served beside the gRPC port, by the same
process and on the same certificates (``earthsig serve grpc``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse, StreamingResponse
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from infra.grpc_api.queries import InvalidRequest, ListQuery, TextQuery, TooLarge
from infra.grpc_api.service import Segmentations
from stac_api.categories import split_categories
from stac_api.errors import add_error_handlers

NDJSON = "application/x-ndjson"
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "INVALID_ARGUMENT: {code, description}"},
    413: {"description": "RESOURCE_EXHAUSTED: an answer over a server limit, named"}}


class NdjsonResponse(StreamingResponse):
    """One ``{"result": message}`` JSON object a line (and so in the OpenAPI document)."""

    media_type = NDJSON
Answer = Callable[[ListQuery | TextQuery], Iterator[Message]]


def _moment(name: str, text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidRequest(f"{name}: {text!r} is not an RFC 3339 date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _values(values: list[str] | None, split: Callable[[str], list[str]]) -> tuple[str, ...]:
    return tuple(v for value in values or [] for v in split(value))


def _lines(messages: Iterable[Message]) -> Iterator[bytes]:
    for message in messages:
        yield json.dumps({"result": MessageToDict(message)}).encode() + b"\n"


def _error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"code": code, "description": description}, status_code=status)


def _respond(answer: Answer, query: Callable[[], ListQuery | TextQuery]) -> Any:
    try:
        messages = answer(query())
    except InvalidRequest as exc:
        return _error(400, "INVALID_ARGUMENT", str(exc))
    except TooLarge as exc:
        return _error(413, "RESOURCE_EXHAUSTED", str(exc))
    return NdjsonResponse(_lines(messages))


def create_app(segmentations: Segmentations) -> FastAPI:
    app = FastAPI(title="EarthSignature: SnapEarth API HTTP bindings",
                  description="GET bindings of snapearth.api.v1 / v2 DatabaseProductService "
                              "(docs/grpc.md).")
    versions: dict[str, Answer] = {"v1": segmentations.rasters, "v2": segmentations.polygons}

    for version, answer in versions.items():
        def add(version: str = version, answer: Answer = answer) -> None:
            @app.get(f"/{version}/segmentation:list", name=f"{version}_list",
                     summary=f"ListSegmentation ({version})", response_class=NdjsonResponse,
                     responses=ERRORS)
            def list_segmentation(
                wkt: Annotated[str, Query(description="Area, WGS84 WKT.")] = "",
                start_date: Annotated[str | None, Query(description="RFC 3339.")] = None,
                end_date: Annotated[str | None, Query(description="RFC 3339.")] = None,
                product_ids: Annotated[list[str] | None, Query(
                    description="Repeatable, or comma-separated.")] = None,
                categories: Annotated[list[str] | None, Query(
                    description="CLC codes or names; repeatable, or comma-separated.")] = None,
                n_results: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                overview_level: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
            ) -> Any:
                return _respond(answer, lambda: ListQuery(
                    wkt=wkt, start=_moment("start_date", start_date),
                    end=_moment("end_date", end_date),
                    product_ids=_values(product_ids, lambda v: v.split(",")),
                    categories=_values(categories, split_categories),
                    n_results=n_results, overview_level=overview_level))

            @app.get(f"/{version}/segmentation:search", name=f"{version}_search",
                     summary=f"SearchSegmentation ({version})", response_class=NdjsonResponse,
                     responses=ERRORS)
            def search_segmentation(
                query: Annotated[str, Query(description="Free text.", max_length=2000)],
                n_results: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                overview_level: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                wkt: Annotated[str, Query(description="Crop, WGS84 WKT.")] = "",
            ) -> Any:
                return _respond(answer, lambda: TextQuery(
                    query=query, n_results=n_results, overview_level=overview_level, wkt=wkt))
        add()
    add_error_handlers(app)  # {code, description}, validation errors as 400 (as the STAC API)
    return app
