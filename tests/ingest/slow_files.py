"""A download server that takes its time and counts the downloads in flight.

``create_app`` (``uvicorn --factory``) serves the zip at ``$EARTHSIG_TEST_SLOW_ZIP`` as
``/zip/<name>.zip`` for any name, in 32 chunks ``$EARTHSIG_TEST_SLOW_CHUNK_S`` apart (the first
request for a name starting with ``stall-`` is 100 times slower: a download a test can kill a
worker in). ``/_stats`` answers the downloads in flight now, the most ever in flight at once,
and the downloads started per name - the concurrency the fetch stage's bounds must hold.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

CHUNKS = 32


def create_app() -> FastAPI:
    data = Path(os.environ["EARTHSIG_TEST_SLOW_ZIP"]).read_bytes()
    pause_s = float(os.environ.get("EARTHSIG_TEST_SLOW_CHUNK_S", "0.05"))
    app = FastAPI()
    state = {"active": 0, "max": 0}
    started: Counter[str] = Counter()

    @app.get("/")
    def landing() -> dict:
        return {}

    @app.get("/_stats")
    def stats() -> dict:
        return {**state, "started": dict(started)}

    @app.get("/zip/{name}")
    async def download(name: str) -> StreamingResponse:
        started[name] += 1
        slow = pause_s * (100 if name.startswith("stall-") and started[name] == 1 else 1)
        size = -(-len(data) // CHUNKS)

        async def body() -> AsyncIterator[bytes]:
            state["active"] += 1
            state["max"] = max(state["max"], state["active"])
            try:
                for start in range(0, len(data), size):
                    await asyncio.sleep(slow)
                    yield data[start:start + size]
            finally:  # also when the client is gone (a killed worker)
                state["active"] -= 1

        return StreamingResponse(body(), media_type="application/zip", headers={
            "Content-Length": str(len(data)),
            "Content-Disposition": f'attachment; filename="{name}"'})

    return app
