"""The web map at ``/map``: a Leaflet page served by the tiler itself, nothing from a CDN.

The page's own files ship in ``tiler/web/page``; Leaflet, the Natural Earth basemap
(``world-atlas``'s TopoJSON) and ``topojson-client`` come from npm (``tiler/web``'s lock file,
installed by ``make install``) and are served from their installed folders. The page's data:
``/map/config.json`` (the collections it can draw), ``/map/places`` (search box),
``/map/cities`` (the basemap's labels) and ``/collections/{id}/coverage`` (dates in view, and
the nearest data when the view holds none; under the collection so that the model-version
filter applies to it as to the tiles).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from psycopg_pool import ConnectionPool
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

from tiler import places
from tiler.coverage import BBox, Coverage, CoverageQueryError, coverage
from tiler.errors import WebMapNotInstalledError
from tiler.map_layers import MapLayer, map_layers

PAGE_DIR = Path(__file__).parent / "web" / "page"
# npm packages the page loads, and the folder of each that is served.
VENDOR = {"leaflet": "leaflet/dist", "world-atlas": "world-atlas",
          "topojson-client": "topojson-client/dist"}


class MapCollection(BaseModel):
    id: str
    title: str
    renders: list[str]
    start: str | None
    end: str | None


class MapConfig(BaseModel):
    collections: list[MapCollection]
    layers: list[MapLayer]
    basemap_url: str


def _mappable_collections(pool: ConnectionPool) -> list[MapCollection]:
    """Collections with a render: the ones the page can draw."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT id, content FROM pgstac.collections WHERE content ? 'renders' ORDER BY id"
        ).fetchall()
    found = []
    for collection_id, content in rows:
        interval: list[Any] = (content.get("extent", {}).get("temporal", {})
                               .get("interval") or [[None, None]])[0]
        found.append(MapCollection(id=collection_id, title=content.get("title") or collection_id,
                                   renders=sorted(content["renders"]), start=interval[0],
                                   end=interval[1]))
    return found


def parse_view(text: str) -> BBox:
    """A view's ``west,south,east,north``, clamped to the world (a map zoomed out far shows
    more than 360 degrees); 400 when it is not four numbers with west < east, south < north."""
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise HTTPException(400, f"bbox {text!r} is not west,south,east,north") from None
    box = (max(west, -180.0), max(south, -90.0), min(east, 180.0), min(north, 90.0))
    if not (box[0] < box[2] and box[1] < box[3]):
        raise HTTPException(400, f"bbox {text!r} is not a box with west < east, south < north")
    return box


def _cql2(text: str | None, lang: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    if lang not in (None, "cql2-json"):
        raise HTTPException(400, "filter: only cql2-json is understood here")
    try:
        found = json.loads(text)
    except ValueError:
        raise HTTPException(400, "filter is not CQL2 JSON") from None
    if not isinstance(found, dict):
        raise HTTPException(400, "filter is not a CQL2 JSON object")
    return found


ViewQuery = Annotated[str, Query(description="The view: west,south,east,north (WGS84).")]


def _add_data_routes(app: FastAPI) -> None:
    router = APIRouter(tags=["Web map"])

    @router.get("/map/places", response_model=list[places.Place])
    def place_search(q: Annotated[str, Query(min_length=1, max_length=100)],
                     limit: Annotated[int, Query(ge=1, le=places.MAX_RESULTS)] = 8,
                     ) -> list[places.Place]:
        """Cities whose name starts with ``q`` (GeoNames, 15 000 inhabitants or more)."""
        return places.search(q, limit)

    @router.get("/map/cities", response_model=list[places.Place])
    def cities(bbox: ViewQuery,
               limit: Annotated[int, Query(ge=1, le=places.MAX_RESULTS)] = 20,
               ) -> list[places.Place]:
        """The most populous cities in the view: the basemap's labels."""
        return places.cities_in(parse_view(bbox), limit)

    @router.get("/collections/{collection_id}/coverage", response_model=Coverage)
    def collection_coverage(
        request: Request, collection_id: str, bbox: ViewQuery,
        datetime: Annotated[str | None, Query(description="The map's date filter.")] = None,
        cql2_filter: Annotated[str | None, Query(alias="filter")] = None,
        filter_lang: Annotated[str | None, Query(alias="filter-lang")] = None,
    ) -> Coverage:
        """Acquisition days in the view; whether the map has data there; else the nearest."""
        try:
            return coverage(request.app.state.dbpool, collection_id, parse_view(bbox),
                            datetime, _cql2(cql2_filter, filter_lang))
        except CoverageQueryError as error:
            raise HTTPException(400, str(error)) from None

    app.include_router(router)


def add_web_map(app: FastAPI, modules: Path, basemap_url: str) -> None:
    """``/map`` (page), its data routes, ``/map/static/*`` and ``/map/vendor/<package>/*``."""
    leaflet = modules / "leaflet" / "dist"
    router = APIRouter(prefix="/map", tags=["Web map"])

    @router.get("", include_in_schema=False)
    def page() -> FileResponse:
        missing = [name for name, folder in VENDOR.items() if not (modules / folder).is_dir()]
        if missing or not (leaflet / "leaflet.js").is_file():
            raise WebMapNotInstalledError(
                f"the web map's packages are not installed in {modules}: run `make install`"
            )
        return FileResponse(PAGE_DIR / "index.html", media_type="text/html")

    @router.get("/config.json", response_model=MapConfig)
    async def config(request: Request) -> MapConfig:
        pool = request.app.state.dbpool
        collections = await run_in_threadpool(_mappable_collections, pool)
        layers = await run_in_threadpool(map_layers, pool, [c.id for c in collections])
        return MapConfig(collections=collections, layers=layers, basemap_url=basemap_url)

    app.include_router(router)
    _add_data_routes(app)
    app.mount("/map/static", StaticFiles(directory=PAGE_DIR), name="map-static")
    # check_dir=False: the app must start before `npm ci` ran; /map says what is missing.
    for name, folder in VENDOR.items():
        app.mount(f"/map/vendor/{name}", StaticFiles(directory=modules / folder,
                                                     check_dir=False), name=f"map-{name}")
