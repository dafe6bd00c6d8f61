"""API-key protection of the write routes (transactions); reads stay public.

Only routes that change the catalog are guarded: every route answering POST, PUT, PATCH or
DELETE except ``POST /search``, which reads. Guarding by method rather than by a list of
upstream paths fails closed: a write route a future upstream adds is guarded too.

401 when no key is sent (with ``WWW-Authenticate`` naming the header), 403 when a wrong one is.
Keys are compared in constant time. For OAuth/OIDC instead, run stac-auth-proxy in front and
leave the keys unset (see docs/search.md).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.security import APIKeyHeader
from stac_fastapi.api.routes import Scope

from stac_api.routes import api_routes

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_POSTS = frozenset({"/search"})


def api_key_guard(keys: frozenset[str], header: str) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency accepting exactly ``keys`` in ``header``."""
    if not keys:
        raise ValueError("an API key guard needs at least one key")
    scheme = APIKeyHeader(name=header, auto_error=False,
                          description="API key for catalog writes.")
    encoded = [k.encode() for k in keys]

    async def require_api_key(key: str | None = Security(scheme)) -> None:
        if not key:
            raise HTTPException(
                status_code=401,
                detail=f"Writes need an API key in the {header} header.",
                headers={"WWW-Authenticate": f'ApiKey header="{header}"'},
            )
        given = key.encode()
        # Every key is compared, so the time taken does not tell which key came close.
        if not sum(secrets.compare_digest(given, k) for k in encoded):
            raise HTTPException(status_code=403, detail="This API key may not write.")

    return require_api_key


def write_scopes(app: FastAPI, prefix: str = "") -> list[Scope]:
    """One scope per (write route, write method) of ``app``."""
    reads = {prefix + path for path in READ_POSTS}
    scopes: list[Scope] = []
    for route in api_routes(app.router.routes):
        for method in sorted((route.methods or set()) & WRITE_METHODS):
            if method == "POST" and route.path in reads:
                continue
            scopes.append({"path": route.path, "method": method, "type": "http"})
    return scopes


def protect_writes(
    add_route_dependencies: Callable[[list[Scope], list], None],
    app: FastAPI,
    guard: Callable[..., Awaitable[None]],
    prefix: str = "",
) -> list[Scope]:
    """Put ``guard`` in front of every write route; returns the scopes guarded."""
    scopes = write_scopes(app, prefix)
    if scopes:
        add_route_dependencies(scopes, [Depends(guard)])
    return scopes
