"""The local asset store over HTTP: ``GET`` and ``HEAD /assets/{path}``; the model
repository's documents the same way at ``/models/{path}`` (the items' ``derived_from`` links
to the MLM document of the model that made them).

A STAC client on another machine (pystac-client + rasterio, GDAL's ``/vsicurl/`` and STACIT
driver, QGIS's STAC source) reads the published COGs, polygons and quicklooks by URL; the STAC
API writes the store's paths as these URLs (``stac_api/asset_urls.py``). Starlette's
``FileResponse`` answers byte ranges (206, what GDAL reads COGs with), ``HEAD``, ``ETag`` and
``Last-Modified`` from the file itself; the route answers conditional requests (304, as
Starlette's static files do) and the media types the items declare, so QGIS, which adds only
assets typed as COG, sees the same type on the wire. The same guard as every other read: a
path resolving outside the store (``..``, a symlink out, a NUL) is a 403, a missing file 404.
"""

from __future__ import annotations

import os
from email.utils import parsedate_to_datetime
from pathlib import Path

import pystac
from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response

from catalog_schemas.items import PARQUET
from tiler.errors import AssetMissingError, DatasetNotAllowedError

ROUTE_PREFIX = "/assets"
MODELS_PREFIX = "/models"
MEDIA_TYPES = {
    ".tif": str(pystac.MediaType.COG),
    ".tiff": str(pystac.MediaType.COG),
    ".parquet": PARQUET,
    ".png": str(pystac.MediaType.PNG),
    ".json": str(pystac.MediaType.JSON),
    ".geojson": str(pystac.MediaType.GEOJSON),
}


def asset_file(root: Path, path: str, prefix: str = ROUTE_PREFIX) -> Path:
    """The file ``path`` names under the store ``root``; refused outside it, missing named."""
    real_root = Path(os.path.realpath(root))
    if "\x00" in path or path.startswith("/"):
        raise DatasetNotAllowedError(f"asset path {path!r} is not a path inside the store")
    found = Path(os.path.realpath(real_root / path))
    if not found.is_relative_to(real_root):
        raise DatasetNotAllowedError(f"asset path {path!r} is outside the asset store")
    if not found.is_file():
        raise AssetMissingError(f"nothing at {prefix}/{path}")
    return found


def add_asset_routes(app: FastAPI, root: Path, models: Path | None = None) -> None:
    """``/assets/{path}``: the files of the asset store at ``root``; ``/models/{path}``: those
    of the model repository ``models``."""
    _add_file_route(app, ROUTE_PREFIX, root, "A published asset file (byte ranges, HEAD, ETag)")
    if models is not None:
        _add_file_route(app, MODELS_PREFIX, models,
                        "A model repository file: a version's mlm.json (STAC MLM) or model.onnx")


def _add_file_route(app: FastAPI, prefix: str, root: Path, summary: str) -> None:
    @app.api_route(f"{prefix}/{{path:path}}", methods=["GET", "HEAD"], tags=["Assets"],
                   response_class=FileResponse, summary=summary, name=prefix.strip("/"))
    def serve_file(path: str, request: Request) -> Response:
        found = asset_file(root, path, prefix)
        # Stat given: the ETag and Last-Modified exist before the answer is sent.
        response = FileResponse(found, stat_result=os.stat(found),
                                media_type=MEDIA_TYPES.get(found.suffix.lower(),
                                                           "application/octet-stream"))
        if not_modified(response.headers, request.headers):
            kept = {k: v for k, v in response.headers.items()
                    if k in ("etag", "last-modified", "cache-control")}
            return Response(status_code=304, headers=kept)
        return response


def not_modified(response: Headers, request: Headers) -> bool:
    """RFC 9110 13.1: If-None-Match decides when sent (weak comparison), else
    If-Modified-Since against Last-Modified."""
    if "if-none-match" in request:
        tags = [t.strip().removeprefix("W/") for t in request["if-none-match"].split(",")]
        return "*" in tags or response.get("etag", "").removeprefix("W/") in tags
    since, modified = request.get("if-modified-since"), response.get("last-modified")
    if not since or not modified:
        return False
    try:
        return parsedate_to_datetime(modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):  # an unparsable date is ignored, as RFC 9110 says
        return False
