"""A POST search must carry a JSON object.

stac-pydantic's search model validates ``values.get(...)`` before checking the body's type, so
a body of ``null``, a list or a number reaches it as such and fails with an
``AttributeError``: a 500 for the client's mistake (found by tests/stac_api/test_fuzz.py).
An empty body is left to FastAPI (a 400: the body is required).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import Depends, HTTPException, Request
from stac_fastapi.api.routes import Scope

_JSON_KINDS = {type(None): "null", list: "an array", str: "a string", int: "a number",
               float: "a number", bool: "a boolean"}


async def require_json_object(request: Request) -> None:
    """400 unless the body is empty or a JSON object (FastAPI has already read and cached it)."""
    raw = (await request.body()).strip()
    if not raw:
        return
    try:
        body = json.loads(raw)
    except ValueError:
        return  # not JSON at all: FastAPI's own validation answers it
    if not isinstance(body, dict):
        raise HTTPException(
            status_code=400,
            detail=f"POST {request.url.path} needs a JSON object of search parameters, "
                   f"not {_JSON_KINDS.get(type(body), 'that')}.",
        )


def require_search_objects(add_route_dependencies: Callable[[list[Scope], list], None],
                           prefix: str = "") -> None:
    add_route_dependencies([{"path": f"{prefix}/search", "method": "POST"}],
                           [Depends(require_json_object)])
