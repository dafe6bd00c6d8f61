"""The gRPC adapters: request messages -> plain queries, errors -> status codes, and who may
write (the client certificate's common name, checked against EARTHSIG_GRPC_WRITERS)."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Generic, NoReturn, TypeVar

import grpc

from infra.grpc_api.generated.snapearth.api.v1 import database_pb2, database_pb2_grpc
from infra.grpc_api.generated.snapearth.api.v1 import segmentation_pb2 as v1
from infra.grpc_api.generated.snapearth.api.v2 import database_pb2_grpc as v2_grpc
from infra.grpc_api.generated.snapearth.api.v2 import segmentation_pb2 as v2
from infra.grpc_api.geobuf import GeobufError
from infra.grpc_api.queries import InvalidRequest, ListQuery, TextQuery, TooLarge
from infra.grpc_api.service import Segmentations
from ingest.errors import InvalidProductError

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")  # one API version's response message

# Our exceptions -> the status a client sees (with the exception's message).
STATUS: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (GeobufError, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidProductError, grpc.StatusCode.INVALID_ARGUMENT),
    (TooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
)


def client_name(context: grpc.ServicerContext) -> str | None:
    """The common name of the client's certificate (None over plaintext)."""
    names = context.auth_context().get("x509_common_name") or []
    return names[0].decode() if names else None


def _time(stamp: Any, present: bool) -> datetime | None:
    return stamp.ToDatetime(tzinfo=UTC) if present else None


def list_query(request: v1.ListSegmentationRequest) -> ListQuery:
    return ListQuery(
        wkt=request.wkt, start=_time(request.start_date, request.HasField("start_date")),
        end=_time(request.end_date, request.HasField("end_date")),
        product_ids=tuple(request.product_ids), categories=tuple(request.categories),
        n_results=request.n_results, overview_level=request.overview_level)


def text_query(request: v1.SearchSegmentationRequest) -> TextQuery:
    return TextQuery(query=request.query, n_results=request.n_results,
                     overview_level=request.overview_level, wkt=request.wkt)


def _abort(context: grpc.ServicerContext, exc: Exception) -> NoReturn:
    for kind, code in STATUS:
        if isinstance(exc, kind):
            context.abort(code, str(exc))
    raise exc


def _answered(method: str, context: grpc.ServicerContext, call: Callable[[], Iterator[T]]
              ) -> Iterator[T]:
    """The responses of ``call``; its errors as statuses; a log line per call."""
    t0, count = time.perf_counter(), 0
    try:
        for response in call():
            count += 1
            yield response
    except Exception as exc:
        log.info("grpc %s by %s: %s after %d responses", method, client_name(context),
                 type(exc).__name__, count)
        _abort(context, exc)
    log.info("grpc %s by %s: %d responses in %.2fs", method, client_name(context), count,
             time.perf_counter() - t0)


class _Segmentations(ABC, Generic[R]):
    """ListSegmentation and SearchSegmentation of one API version: the same requests, each
    version answering their queries its own way (:meth:`answer`)."""

    version: str

    def __init__(self, segmentations: Segmentations) -> None:
        self.segmentations = segmentations

    @abstractmethod
    def answer(self, query: ListQuery | TextQuery) -> Iterator[R]:
        """The responses to ``query``, one per product."""

    def ListSegmentation(self, request: v1.ListSegmentationRequest,
                         context: grpc.ServicerContext) -> Iterator[R]:
        return _answered(f"{self.version}.ListSegmentation", context,
                         lambda: self.answer(list_query(request)))

    def SearchSegmentation(self, request: v1.SearchSegmentationRequest,
                           context: grpc.ServicerContext) -> Iterator[R]:
        return _answered(f"{self.version}.SearchSegmentation", context,
                         lambda: self.answer(text_query(request)))


class DatabaseProductServiceV1(_Segmentations[v1.SegmentationResponse],
                               database_pb2_grpc.DatabaseProductServiceServicer):
    """snapearth.api.v1.DatabaseProductService: rasters."""

    version = "v1"

    def answer(self, query: ListQuery | TextQuery) -> Iterator[v1.SegmentationResponse]:
        return self.segmentations.rasters(query)

    def CreateProduct(self, request: database_pb2.CreateProductRequest,
                      context: grpc.ServicerContext) -> database_pb2.CreateProductResponse:
        client = client_name(context)
        if client is None or client not in self.segmentations.settings.writers:
            log.warning("grpc CreateProduct refused to %s: not a writer", client)
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          f"client {client or '(no certificate)'} may read but not write: "
                          "writers are the certificate names in EARTHSIG_GRPC_WRITERS")
        return next(iter(_answered("v1.CreateProduct", context,
                                   lambda: iter([self.segmentations.create(request)]))))


class DatabaseProductServiceV2(_Segmentations[v2.SegmentationResponse],
                               v2_grpc.DatabaseProductServiceServicer):
    """snapearth.api.v2.DatabaseProductService: polygons (geobuf)."""

    version = "v2"

    def answer(self, query: ListQuery | TextQuery) -> Iterator[v2.SegmentationResponse]:
        return self.segmentations.polygons(query)


def add_services(server: grpc.Server, segmentations: Segmentations) -> None:
    database_pb2_grpc.add_DatabaseProductServiceServicer_to_server(
        DatabaseProductServiceV1(segmentations), server)
    v2_grpc.add_DatabaseProductServiceServicer_to_server(
        DatabaseProductServiceV2(segmentations), server)
