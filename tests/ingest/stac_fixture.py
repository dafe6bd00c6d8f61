"""A small STAC API over local files, standing in for earth-search or a SAFE provider.

``create_app`` (run with ``uvicorn --factory``) serves the items found under
``$EARTHSIG_TEST_STAC_ROOT/items/<collection>/*.json`` through ``POST /search`` (collections,
intersects, bbox, datetime, ``query`` on ``eo:cloud_cover``, ids, limit, and a ``next`` link
with a token in its body, as STAC API - Item Search pages), and the files under ``files/``
with HTTP range requests (starlette's ``FileResponse``). Relative asset hrefs are made
absolute against the server's own URL. The collection ``broken`` answers 502 and
``garbage`` answers a body that is not JSON, for error tests. ``/_requests`` lists the
requests made so far (method, path, Range header), so tests can tell a range read from a
whole download.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from shapely.geometry import box, shape


def _load(root: Path) -> dict[str, list[dict]]:
    return {folder.name: [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
            for folder in sorted((root / "items").iterdir()) if folder.is_dir()}


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _matches(item: dict, body: dict[str, Any]) -> bool:
    if body.get("ids") and item["id"] not in body["ids"]:
        return False
    area = shape(body["intersects"]) if body.get("intersects") else (
        box(*body["bbox"]) if body.get("bbox") else None)
    if area is not None and not shape(item["geometry"]).intersects(area):
        return False
    if body.get("datetime"):
        start, _, end = body["datetime"].partition("/")
        when = _when(item["properties"]["datetime"])
        if start not in ("", "..") and when < _when(start):
            return False
        if end not in ("", "..") and when > _when(end):
            return False
    ceiling = body.get("query", {}).get("eo:cloud_cover", {}).get("lte")
    return ceiling is None or item["properties"].get("eo:cloud_cover", 0) <= ceiling


def _absolute(item: dict, base: str, collection: str) -> dict:
    item = json.loads(json.dumps(item))
    for asset in item["assets"].values():
        if not asset["href"].startswith(("http://", "https://")):
            asset["href"] = base + "files/" + asset["href"].removeprefix("./")
    item["collection"] = collection
    item["links"] = [
        {"rel": "self", "type": "application/geo+json",
         "href": f"{base}collections/{collection}/items/{item['id']}"},
        {"rel": "collection", "href": f"{base}collections/{collection}"}]
    return item


def create_app() -> FastAPI:
    root = Path(os.environ["EARTHSIG_TEST_STAC_ROOT"])
    app = FastAPI()
    requests: list[dict[str, str | None]] = []

    @app.middleware("http")
    async def record(request: Request, call_next):  # noqa: ANN001, ANN202
        requests.append({"method": request.method, "path": request.url.path,
                         "range": request.headers.get("range")})
        return await call_next(request)

    @app.get("/")
    def landing(request: Request) -> dict:
        return {"type": "Catalog", "id": "local", "stac_version": "1.1.0", "description": "",
                "conformsTo": ["https://api.stacspec.org/v1.0.0/item-search"],
                "links": [{"rel": "search", "href": f"{request.base_url}search",
                           "method": "POST"}]}

    @app.get("/queryables")
    @app.get("/collections/{collection}/queryables")
    def queryables(collection: str | None = None) -> dict:
        return {"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object",
                "properties": {"datetime": {"type": "string", "format": "date-time"},
                               "eo:cloud_cover": {"type": "number", "minimum": 0,
                                                  "maximum": 100}},
                "additionalProperties": True}

    @app.get("/_requests")
    def recorded() -> list[dict[str, str | None]]:
        return requests

    @app.get("/collections/{collection}/items/{item_id}")
    def get_item(collection: str, item_id: str, request: Request) -> JSONResponse:
        # The file named after the item when there is one: a day's ~800 items are each
        # read in turn, and reading the whole folder each time made that quadratic.
        named = root / "items" / collection / f"{item_id}.json"
        items = [json.loads(named.read_text())] if named.name == f"{item_id}.json" \
            and named.is_file() else _load(root).get(collection, [])
        for item in items:
            if item["id"] == item_id:
                return JSONResponse(_absolute(item, str(request.base_url), collection))
        return JSONResponse({"code": "NotFound"}, status_code=404)

    @app.post("/search", response_model=None)
    async def search(request: Request) -> JSONResponse | PlainTextResponse:
        body = await request.json()
        collections = body.get("collections") or []
        if "broken" in collections:
            return JSONResponse({"code": "BadGateway", "description": "upstream down"}, 502)
        if "garbage" in collections:
            return PlainTextResponse("<html>not json</html>")
        catalog = _load(root)
        found = sorted(((item, c) for c in collections for item in catalog.get(c, [])
                        if _matches(item, body)),
                       key=lambda pair: (pair[0]["properties"]["datetime"], pair[0]["id"]))
        start, limit = int(body.get("token") or 0), int(body.get("limit") or 10)
        page = found[start:start + limit]
        base = str(request.base_url)
        links = []
        if start + limit < len(found):
            links.append({"rel": "next", "href": f"{base}search", "method": "POST",
                          "body": {**body, "token": str(start + limit)}, "merge": False})
        return JSONResponse({"type": "FeatureCollection", "numberMatched": len(found),
                             "numberReturned": len(page), "links": links,
                             "features": [_absolute(i, base, c) for i, c in page]})

    app.mount("/files", StaticFiles(directory=root / "files"), name="files")
    return app
