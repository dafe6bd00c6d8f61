"""``/_mgmt/health``: upstream's pgstac check plus the PostgreSQL server version.

stac-fastapi-pgstac's check says whether the lifespan ran and which pgstac version answers; an
operator upgrading the database also wants the server's version, so we add a ``database``
section. Upstream's ``instantiate_api`` fixes the health endpoint, so :func:`replace_health`
swaps the route for one at the same path.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from stac_fastapi.api.models import JSONResponse
from stac_fastapi.pgstac.core import health_check

from stac_api.routes import remove_route

HEALTH_PATH = "/_mgmt/health"


async def health(request: Request) -> Any:
    """Upstream's answer with ``database`` (status, PostgreSQL version) added when it is up."""
    answer = await health_check(request)
    if isinstance(answer, JSONResponse):  # down: upstream's 503 says why
        return answer
    async with request.app.state.get_connection(request, "r") as conn:
        server = await conn.fetchval("SHOW server_version")
    answer["database"] = {"status": "UP", "postgres_version": server}
    return answer


def replace_health(app: FastAPI, prefix: str = "") -> None:
    """Serve :func:`health` at upstream's health path instead of upstream's check."""
    path = prefix + HEALTH_PATH
    if not remove_route(app.router.routes, path, "GET"):
        raise RuntimeError(f"upstream no longer serves {path}: nothing to replace")
    app.add_api_route(path, health, methods=["GET"], name="Health",
                      tags=["Liveliness/Readiness"], response_class=JSONResponse)
