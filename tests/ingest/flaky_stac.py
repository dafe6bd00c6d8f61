"""``stac_fixture``'s STAC API with an outage switch, for discovery's failure tests.

While the file ``$EARTHSIG_TEST_STAC_ROOT/outage`` exists, ``POST /search`` answers 500, as a
provider whose back end is down does; ``/_failed`` counts the searches answered so.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.ingest.stac_fixture import create_app as create_stac_app


def create_app() -> FastAPI:
    root = Path(os.environ["EARTHSIG_TEST_STAC_ROOT"])
    app = create_stac_app()
    failed = [0]

    @app.middleware("http")
    async def outage(request: Request, call_next):  # noqa: ANN001, ANN202
        if request.url.path == "/search" and (root / "outage").exists():
            failed[0] += 1
            return JSONResponse({"code": "InternalServerError",
                                 "description": "search back end down"}, status_code=500)
        return await call_next(request)

    @app.get("/_failed")
    def failed_searches() -> int:
        return failed[0]

    return app
