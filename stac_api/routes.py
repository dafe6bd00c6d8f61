"""Walk an app's API routes, included routers too.

FastAPI (0.165) keeps an included router as one ``_IncludedRouter`` entry holding the router's
own route list (``original_router``), not as copies of its routes in ``app.routes``: code that
looks for a route by path or method must walk into those lists, as upstream's
``add_route_dependencies`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute


def route_lists(routes: list[Any]) -> Iterator[list[Any]]:
    """``routes`` and every route list nested in it."""
    yield routes
    for route in routes:
        if hasattr(route, "original_router"):
            yield from route_lists(route.original_router.routes)
        elif getattr(route, "routes", None):
            yield from route_lists(route.routes)


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every :class:`APIRoute` in ``routes``, however deeply included."""
    for found in route_lists(routes):
        yield from (r for r in found if isinstance(r, APIRoute))


def remove_route(routes: list[Any], path: str, method: str) -> int:
    """Drop the API routes answering ``method`` at ``path``; returns how many went."""
    removed = 0
    for found in list(route_lists(routes)):
        keep = [r for r in found
                if not (isinstance(r, APIRoute) and r.path == path and method in (r.methods or ()))]
        removed += len(found) - len(keep)
        found[:] = keep
    return removed
