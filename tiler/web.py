"""The web map at ``/map``: a Leaflet page served by the tiler itself, nothing from a CDN.

The page's own files ship in ``tiler/web/page``; Leaflet comes from npm (``tiler/web``'s
lock file, installed by ``make install``) and is served from its installed ``dist`` folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from psycopg_pool import ConnectionPool
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

from tiler.errors import WebMapNotInstalledError

PAGE_DIR = Path(__file__).parent / "web" / "page"


class MapCollection(BaseModel):
    id: str
    title: str
    renders: list[str]
    start: str | None
    end: str | None


class MapConfig(BaseModel):
    collections: list[MapCollection]
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


def add_web_map(app: FastAPI, modules: Path, basemap_url: str) -> None:
    """``/map`` (page), ``/map/config.json``, ``/map/static/*`` and ``/map/vendor/leaflet/*``."""
    leaflet = modules / "leaflet" / "dist"
    router = APIRouter(prefix="/map", tags=["Web map"])

    @router.get("", include_in_schema=False)
    def page() -> FileResponse:
        if not (leaflet / "leaflet.js").is_file():
            raise WebMapNotInstalledError(
                f"the web map's packages are not installed in {modules}: run `make install`"
            )
        return FileResponse(PAGE_DIR / "index.html", media_type="text/html")

    @router.get("/config.json", response_model=MapConfig)
    async def config(request: Request) -> MapConfig:
        collections = await run_in_threadpool(_mappable_collections, request.app.state.dbpool)
        return MapConfig(collections=collections, basemap_url=basemap_url)

    app.include_router(router)
    app.mount("/map/static", StaticFiles(directory=PAGE_DIR), name="map-static")
    # check_dir=False: the app must start before `npm ci` ran; /map says what is missing.
    app.mount("/map/vendor/leaflet", StaticFiles(directory=leaflet, check_dir=False),
              name="map-leaflet")
