"""The time series over HTTP: ``GET /timeseries/point`` and ``POST /timeseries/area``, JSON or
CSV, thin over :mod:`tiler.timeseries`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, FastAPI, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from titiler.core.errors import add_exception_handlers

from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from tiler.paths import AssetRoots
from tiler.timeseries import (
    AreaSeries,
    PointSeries,
    TimeseriesInputError,
    TimeseriesSettings,
    area_series,
    point_series,
)
from tiler.timeseries_csv import area_csv, point_csv


class AreaRequest(BaseModel):
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon, MultiPolygon or a Feature "
                                                 "of one, in WGS84.")
    start: str | None = Field(default=None, description="First day or instant (ISO).")
    end: str | None = Field(default=None, description="Last day or instant (ISO).")
    collection: str = LANDCOVER_COLLECTION_ID


Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv.")]
CSV = "text/csv; charset=utf-8"


def add_timeseries_routes(app: FastAPI, roots: AssetRoots,
                          settings: TimeseriesSettings | None = None) -> None:
    """``GET /timeseries/point`` and ``POST /timeseries/area``."""
    settings = settings or TimeseriesSettings()
    router = APIRouter(prefix="/timeseries", tags=["Time series"])

    def run(pool: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with pool.connection() as conn:
            return fn(conn, *args, roots, settings=settings, **kwargs)

    @router.get("/point", response_model=PointSeries)
    async def point(
        request: Request,
        lon: Annotated[float, Query(ge=-180, le=180, description="Longitude (WGS84)")],
        lat: Annotated[float, Query(ge=-90, le=90, description="Latitude (WGS84)")],
        start: Annotated[str | None, Query(description="First day (ISO), open if absent")] = None,
        end: Annotated[str | None, Query(description="Last day (ISO), open if absent")] = None,
        collection: str = LANDCOVER_COLLECTION_ID,
        format: Format = "json",
    ) -> Any:
        found = await run_in_threadpool(run, request.app.state.dbpool, point_series, lon, lat,
                                        start=start, end=end, collection=collection)
        if format == "csv":
            return Response(point_csv(found), media_type=CSV)
        return found

    @router.post("/area", response_model=AreaSeries)
    async def area(request: Request, body: Annotated[AreaRequest, Body()],
                   format: Format = "json") -> Any:
        found = await run_in_threadpool(run, request.app.state.dbpool, area_series,
                                        body.geometry, start=body.start, end=body.end,
                                        collection=body.collection)
        if format == "csv":
            return Response(area_csv(found), media_type=CSV)
        return found

    app.include_router(router)
    add_exception_handlers(app, {TimeseriesInputError: 400})
