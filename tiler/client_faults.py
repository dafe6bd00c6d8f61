"""Upstream errors that are the request's fault, answered 400 instead of 500.

titiler, rio-tiler, rasterio and titiler-pgstac raise generic exceptions for some bad inputs
(found by fuzzing the tiler, tests/tiler/test_fuzz.py): a ``bidx`` naming a band the file lacks
is rasterio's ``IndexError``, a ``nodata`` that does not fit the data type is numpy's
``OverflowError``/``TypeError``, an inverted bbox is GDAL's "Cannot invert geotransform", a
search pgstac cannot read is a ``BackendError``. Each is recognised here by its type *and* its
message or origin, narrowly: the same exception type raised anywhere else stays a 500.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from psycopg import errors as pg
from rasterio._err import CPLE_AppDefinedError  # not re-exported by rasterio.errors
from rasterio.errors import WindowError
from rio_tiler.errors import RioTilerError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from titiler.core.errors import exception_handler_factory
from titiler.pgstac.errors import BackendError


def _message_starts(*prefixes: str) -> Callable[[BaseException], bool]:
    return lambda exc: str(exc).startswith(prefixes)


def _raised_in(path_suffix: str, function: str | None = None) -> Callable[[BaseException], bool]:
    """Whether the innermost frame of the exception is in that file (and function)."""

    def check(exc: BaseException) -> bool:
        frames = traceback.extract_tb(exc.__traceback__)
        if not frames:
            return False
        last = frames[-1]
        return last.filename.endswith(path_suffix) and function in (None, last.name)

    return check


def _caused_by(cause: type[BaseException]) -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc.__cause__, cause)


@dataclass(frozen=True)
class ClientFault:
    """An upstream exception type, how to recognise the client's fault, and what to say."""

    error: type[Exception]
    matches: Callable[[BaseException], bool]
    explanation: str


CLIENT_FAULTS: tuple[ClientFault, ...] = (
    ClientFault(IndexError, _message_starts("band index"),
                "bidx or expression names a band this dataset does not have"),
    ClientFault(OverflowError, _raised_in("numpy/ma/core.py"),
                "nodata does not fit the data type of this dataset"),
    # A bbox of absurd extent (1e294 degrees) overflows the warped VRT rasterio sizes for it.
    ClientFault(OverflowError, _raised_in("rasterio/_warp.pyx"),
                "the bbox is too large to be read from this dataset"),
    # A zoom far past the tile matrix set's (z=30186) overflows morecantile's matrix maths.
    ClientFault(OverflowError, _raised_in("morecantile/models.py"),
                "the zoom level is beyond what the tile matrix set defines"),
    # A feature or bbox with coordinates far outside any CRS's range (1e15) makes the read
    # window's size infinite before any dataset maths can refuse it.
    ClientFault(OverflowError, _message_starts("cannot convert float infinity to integer"),
                "coordinates out of range: the requested area has no finite size"),
    ClientFault(TypeError, _message_starts("Cannot convert fill_value"),
                "nodata does not fit the data type of this dataset"),
    # validate_json lets `algorithm_params=null` through; titiler then calls Algo(**None).
    ClientFault(TypeError, _raised_in("titiler/core/algorithm/__init__.py", "post_process"),
                "algorithm_params must be a JSON object"),
    # A GeoJSON geometry may carry a 3D bbox (6 numbers): rasterio's bounds() hands it on as it
    # is, and rio-tiler's reads unpack 4.
    ClientFault(TypeError, _message_starts("from_bounds() got multiple values"),
                "a geometry's bbox must be 2D (4 numbers)"),
    ClientFault(ValueError, _raised_in("rio_tiler/utils.py", "get_vrt_transform"),
                "a geometry's bbox must be 2D (4 numbers)"),
    ClientFault(RioTilerError, _message_starts("Invalid geometry"),
                "the GeoJSON geometry is not valid"),
    ClientFault(CPLE_AppDefinedError, _message_starts("Cannot invert geotransform"),
                "the bbox is empty or inverted (minx < maxx and miny < maxy are needed)"),
    # Statistics of a feature take its geometry's own bbox, where it has one, as its bounds.
    ClientFault(WindowError, _message_starts("Bounds and transform are inconsistent"),
                "the geometry's bbox is empty or inverted (minx < maxx and miny < maxy are "
                "needed)"),
    ClientFault(BackendError, _caused_by(pg.DataError), "pgstac cannot read this search"),
    # pgstac refuses a search with both a `query` and a `filter` by RAISE (P0001), which
    # titiler-pgstac's search registration lets through as it is.
    ClientFault(pg.RaiseException, _message_starts("Can only use either query or filter"),
                "use either query or filter in one search, not both"),
    # A registered search's datetime is parsed by pgstac only: "01/07/2024" is a RAISE there.
    ClientFault(pg.RaiseException, _message_starts("Timestamp cannot have more than 2 values"),
                "datetime must be an RFC 3339 date-time or an interval start/end, e.g. "
                "2024-07-01T00:00:00Z/2024-08-01T00:00:00Z"),
    # titiler-pgstac's PgSTACSearch.validate_spatial reads info.data["bbox"], absent when the
    # bbox itself failed validation: a KeyError escapes pydantic.
    ClientFault(KeyError, _raised_in("titiler/pgstac/model.py", "validate_spatial"),
                "bbox is not valid"),
)


def _detail(fault: ClientFault, exc: BaseException) -> str:
    said = str(exc.__cause__ or exc).strip().splitlines()
    return f"{fault.explanation}: {said[0] if said else type(exc).__name__}"


def _handler(error: type[Exception], status_codes: dict[type[Exception], int]) -> Callable:
    faults = [f for f in CLIENT_FAULTS if f.error is error]
    # What upstream's map answers this type (or the nearest base it maps, as Starlette would
    # pick: RasterioError for WindowError) otherwise; None: the catch-all 500 handler.
    mapped = next((c for c in error.__mro__ if c in status_codes and c is not Exception), None)
    fallback = (exception_handler_factory(status_codes[mapped], mapped)
                if mapped is not None else None)

    async def handle(request: Request, exc: Exception) -> Response:
        for fault in faults:
            if fault.matches(exc):
                return JSONResponse({"detail": _detail(fault, exc)}, status_code=400)
        if fallback is None:
            raise exc  # to the server-error middleware: titiler's 500 answer, and a log line
        return fallback(request, exc)

    return handle


def add_client_fault_handlers(app: FastAPI, status_codes: dict[type[Exception], int]) -> None:
    """Register after titiler's handlers: ours replace theirs for the types above."""
    for error in dict.fromkeys(f.error for f in CLIENT_FAULTS):
        app.add_exception_handler(error, _handler(error, status_codes))
