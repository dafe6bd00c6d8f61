"""The URLs a user needs, written to ``<home>/endpoints.json``."""

from __future__ import annotations

import json
from pathlib import Path

from catalog_schemas.assets import CLC_COLORMAP_NAME, LANDCOVER_ASSET
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID

TILE_QUERY = f"assets={LANDCOVER_ASSET}&colormap_name={CLC_COLORMAP_NAME}&resampling=nearest"


def endpoints(stac_api: str, tiler: str, ops: str | None = None,
              dashboard: str | None = None, grpc: str | None = None) -> dict[str, str]:
    collection = f"{tiler}/collections/{LANDCOVER_COLLECTION_ID}"
    extra = {}
    if ops:
        extra["status"] = f"{ops}/status"
    if dashboard:
        extra["dashboard"] = dashboard
    if grpc:  # host:port, as gRPC clients take it (mutual TLS: docs/grpc.md)
        extra["grpc"] = grpc.removeprefix("grpcs://")
    return {
        "stac_api": stac_api,
        "tiler": tiler,
        "xyz": f"{collection}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png?{TILE_QUERY}",
        "tilejson": f"{collection}/WebMercatorQuad/tilejson.json?{TILE_QUERY}&tile_format=png",
        "map": f"{tiler}/map",
        **extra,
    }


def write_endpoints(home: Path, urls: dict[str, str]) -> Path:
    path = home / "endpoints.json"
    path.write_text(json.dumps(urls, indent=2) + "\n")
    return path
