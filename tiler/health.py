"""`/healthz`: is the database reachable through the app's pool."""

from __future__ import annotations

from typing import Annotated, Any

import rasterio
from fastapi import FastAPI, Query, Request
from psycopg import OperationalError
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette import status
from starlette.responses import JSONResponse
from titiler.core import __version__ as titiler_version
from titiler.pgstac import __version__ as titiler_pgstac_version

MIN_TIMEOUT_S = 0.1


def database_online(pool: ConnectionPool, timeout: float) -> bool:
    """True when a pooled connection answers ``SELECT 1`` within ``timeout`` seconds."""
    try:
        with pool.connection(timeout) as conn:
            conn.execute("SELECT 1")
    except (OperationalError, PoolTimeout):
        return False
    return True


def _versions() -> dict[str, str]:
    return {
        "titiler": titiler_version,
        "titiler.pgstac": titiler_pgstac_version,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
    }


def add_health_route(app: FastAPI, default_timeout: float) -> None:
    """Register `/healthz`: 200 when the database answers, 503 when not.

    titiler-pgstac's own route answers 200 either way; a 503 lets orchestrators gate on it.
    """

    @app.get("/healthz", tags=["Health Check"], operation_id="healthz")
    def healthz(
        request: Request,
        timeout: Annotated[
            # Below a tenth of a second even a healthy pool would be reported offline.
            float, Query(ge=MIN_TIMEOUT_S, le=30, description="Seconds to wait for a connection.")
        ] = default_timeout,
    ) -> JSONResponse:
        online = database_online(request.app.state.dbpool, timeout)
        body: dict[str, Any] = {"database_online": online, "versions": _versions()}
        code = status.HTTP_200_OK if online else status.HTTP_503_SERVICE_UNAVAILABLE
        return JSONResponse(body, status_code=code)
