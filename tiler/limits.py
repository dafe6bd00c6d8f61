"""Refuse (400) image sizes and zoom ranges the tiler would choke on before any route runs.

titiler bounds none of them: ``tilesize=100000`` asks for a 10^10-pixel tile, a preview, part or
feature of ``99999x99999`` (path) or ``width=``/``height=``/``max_size=`` (query) allocates
gigabytes or overflows GDAL's integers (a 500), and ``buffer``/``padding`` grow every tile. One
middleware covers every factory (COG, item, collection, search, colormap images) and any route a
future upstream adds with the same parameter names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from pydantic import Field
from starlette.types import ASGIApp, Receive, Scope, Send
from titiler.core.dependencies import PartFeatureParams

# `/preview/{width}x{height}.{format}`, `/bbox/.../{width}x{height}.{format}`, `/feature/...`
_PATH_SIZE = re.compile(
    r"/(?:preview|feature|bbox/[^/]+)/(?P<width>-?\d+)x(?P<height>-?\d+)(?:\.[A-Za-z0-9]+)?$"
)
IMAGE_KEYS = ("width", "height", "max_size")
EDGE_KEYS = ("buffer", "padding")
# A TileJSON or tileset lists every zoom from minzoom to maxzoom: maxzoom=10^7 loops for ever.
ZOOM_KEYS = ("minzoom", "maxzoom")
MAX_ZOOM = 30


@dataclass(frozen=True)
class SizeLimits:
    """Largest tile side, image side (preview, part, feature, statistics) and tile edge."""

    tile: int = 1024
    image: int = 4096
    edge: int = 128


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:  # not a number: the route's own validation answers it
        return None


def _out_of_range(name: str, value: float, low: float, high: int) -> str | None:
    if low <= value <= high:
        return None
    return f"{name}={value:g} is out of range: this tiler serves {name} from {low:g} to {high}"


def size_problem(path: str, query: list[tuple[str, str]], limits: SizeLimits) -> str | None:
    """Why the request asks for too large (or a non-positive) image, or None if it does not."""
    found = _PATH_SIZE.search(path)
    pairs = [(k, v) for k, v in query]
    if found:
        pairs += [("width", found["width"]), ("height", found["height"])]
    for key, raw in pairs:
        value = _number(raw)
        if value is None:
            continue
        problem = None
        if key == "tilesize":
            problem = _out_of_range(key, value, 1, limits.tile)
        elif key in IMAGE_KEYS:
            problem = _out_of_range(key, value, 1, limits.image)
        elif key in EDGE_KEYS:
            problem = _out_of_range(key, value, 0, limits.edge)
        elif key in ZOOM_KEYS:
            problem = _out_of_range(key, value, 0, MAX_ZOOM)
        if problem:
            return problem
    return None


# A bbox or feature image with neither width, height nor max_size is read at the file's full
# resolution over the whole bbox: a world bbox over a 10 m COG is a 4-million-pixel-wide read.
DEFAULT_PART_SIZE = 1024


@dataclass
class BoundedPartParams(PartFeatureParams):
    """titiler's bbox/feature size options with a default ``max_size`` (as previews have)."""

    max_size: Annotated[int | None, Field(
        description=f"Maximum image size to read onto (default {DEFAULT_PART_SIZE}; ignored "
                    "with width or height).")] = DEFAULT_PART_SIZE


class SizeLimitMiddleware:
    """Answer 400 ``{"detail": ...}`` (titiler's error shape) to over-sized image requests."""

    def __init__(self, app: ASGIApp, limits: SizeLimits | None = None) -> None:
        self.app = app
        self.limits = limits or SizeLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                              keep_blank_values=True)
            problem = size_problem(scope.get("path", ""), query, self.limits)
            if problem:
                body = json.dumps({"detail": problem}).encode()
                await send({"type": "http.response.start", "status": 400,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
