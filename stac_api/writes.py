"""Write requests (transactions) must carry the document they write.

stac-fastapi's transaction request models declare their body with a ``None`` default
(``PutItem.item``, ``PutCollection.collection``, ...), so a POST, PUT or PATCH with no body
reaches the pgstac client as ``None`` and fails there with an ``AttributeError``: a 500 for
what is the client's mistake. :func:`require_body` answers it 400 before the route runs.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, FastAPI, HTTPException, Request
from stac_fastapi.api.routes import Scope

from stac_api.auth import write_scopes

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def require_body(request: Request) -> None:
    """400 unless the request has a non-blank body (FastAPI has already read and cached it)."""
    if not (await request.body()).strip():
        raise HTTPException(
            status_code=400,
            detail=f"{request.method} {request.url.path} needs a JSON body: the item, item "
                   "collection, collection or patch to write.",
        )


def require_bodies(
    add_route_dependencies: Callable[[list[Scope], list], None],
    app: FastAPI,
    prefix: str = "",
) -> list[Scope]:
    """Put :func:`require_body` in front of every write route that takes a body."""
    scopes = [s for s in write_scopes(app, prefix) if s["method"] in BODY_METHODS]
    if scopes:
        add_route_dependencies(scopes, [Depends(require_body)])
    return scopes
