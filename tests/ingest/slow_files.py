"""A download server that takes its time, counts the downloads in flight, and serves ranges.

``create_app`` (``uvicorn --factory``) serves the zip at ``$EARTHSIG_TEST_SLOW_ZIP`` as
``/zip/<name>.zip`` for any name, in 32 chunks ``$EARTHSIG_TEST_SLOW_CHUNK_S`` apart, with an
``ETag`` and ``Range``/``If-Range`` as RFC 9110 has them (206 with ``Content-Range``, 416 past
the end). Words in names tell it to misbehave: ``stall-`` (the first request is 100 times slower: a
download a test can kill a worker in), ``cut-`` (the first response breaks off halfway),
``norange-`` (ranges ignored: always the whole file, 200), ``changed-`` (the ETag changes on
every request, as if the file were replaced). ``/_stats`` answers the downloads in flight now,
the most ever in flight at once, the downloads started per name, and each request's ``Range``,
``If-Range``, status and bytes sent per name.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

CHUNKS = 32


def create_app() -> FastAPI:
    data = Path(os.environ["EARTHSIG_TEST_SLOW_ZIP"]).read_bytes()
    pause_s = float(os.environ.get("EARTHSIG_TEST_SLOW_CHUNK_S", "0.05"))
    app = FastAPI()
    state = {"active": 0, "max": 0}
    started: Counter[str] = Counter()
    requests: dict[str, list[dict]] = {}

    @app.get("/")
    def landing() -> dict:
        return {}

    @app.get("/_stats")
    def stats() -> dict:
        return {**state, "started": dict(started), "requests": requests}

    @app.get("/zip/{name}")
    async def download(name: str, request: Request) -> Response:
        started[name] += 1
        etag = f'"v{started[name]}"' if "changed-" in name else '"v1"'
        wanted = request.headers.get("range")
        record = {"range": wanted, "if_range": request.headers.get("if-range"), "sent": 0}
        requests.setdefault(name, []).append(record)
        first = 0
        if wanted and "norange-" not in name and \
                request.headers.get("if-range", etag) == etag:
            first = int(wanted.removeprefix("bytes=").split("-")[0])
        if first >= len(data):
            record["status"] = 416
            return Response(status_code=416, headers={"Content-Range": f"bytes */{len(data)}"})
        record["status"] = 206 if first else 200
        slow = pause_s * (100 if name.startswith("stall-") and started[name] == 1 else 1)
        cut = len(data) // 2 if "cut-" in name and started[name] == 1 else None
        size = -(-len(data) // CHUNKS)

        async def body() -> AsyncIterator[bytes]:
            state["active"] += 1
            state["max"] = max(state["max"], state["active"])
            try:
                for start in range(first, len(data), size):
                    if cut is not None and start >= cut:
                        raise ConnectionAbortedError(f"{name}: cut off at byte {start}")
                    await asyncio.sleep(slow)
                    chunk = data[start:start + size]
                    record["sent"] += len(chunk)
                    yield chunk
            finally:  # also when the client is gone (a killed worker)
                state["active"] -= 1

        headers = {"Content-Length": str(len(data) - first), "ETag": etag,
                   "Accept-Ranges": "bytes",
                   "Content-Disposition": f'attachment; filename="{name}"'}
        if first:
            headers["Content-Range"] = f"bytes {first}-{len(data) - 1}/{len(data)}"
        return StreamingResponse(body(), status_code=record["status"],
                                 media_type="application/zip", headers=headers)

    return app
