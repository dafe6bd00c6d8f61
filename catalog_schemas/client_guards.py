"""What one HTTP client may cost a serving process, in bytes and in time (pure ASGI).

:class:`ClientGuardMiddleware` sits outermost in the STAC API and the tiler:

- **budgets** — first ``admit`` (the per-client budgets, :mod:`catalog_schemas.rate_limits`)
  is asked, before the body is read, weighing the body the request declares: a flooding
  client costs a 429, not its bodies.
- **body size** — a ``Content-Length`` over the limit is refused at once, and a body sent
  without one (chunked) is refused as soon as it passes the limit: 413, before any byte is
  parsed. A 20 MB search body used to cost 5 s of API CPU.
- **what the body asks** — ``check_body`` sees the whole body once (a search's size:
  ids, vertices, CQL2 nodes...) and refuses it with 400 before any route, model or database
  sees it; what it parsed is handed on in the scope, so nothing parses it again.
- **slow bodies** — the whole body must arrive within ``body_timeout_s`` of the request's
  headers; a client trickling it (slowloris on the body) gets 408 and its connection closed,
  instead of holding a request slot for ever. uvicorn bounds neither.
- **clients that go away** — Starlette runs a handler to the end even when its client has
  hung up (it listens for ``http.disconnect`` only while streaming). Here the body is read
  first, then the handler runs while the connection is watched; a disconnect cancels the
  handler, and with it an asyncpg query in flight (asyncpg cancels the statement on the
  server when its task is cancelled). A handler run in a thread cannot be cancelled: the
  database's statement timeout bounds those.

Slow *headers* come before any ASGI app is called: uvicorn's protocol bounds them, with the
deadline :mod:`catalog_schemas.slow_headers` adds (uvicorn has none of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from catalog_schemas.request_limits import (
    LIMIT_CAPPED,
    PARSED_BODY,
    LimitExceeded,
    limit_warning,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# Whether a request may go on; False: it was refused, the answer is sent.
Admit = Callable[[Scope, Send], Awaitable[bool]]
# The whole body's problem, or None (catalog_schemas.request_limits.search_body_check).
CheckBody = Callable[[Scope, bytes], LimitExceeded | None]

logger = logging.getLogger(__name__)


async def send_json(send: Send, status: int, body: dict[str, Any],
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer ``body`` as JSON (our ``{code, description, ...}`` errors)."""
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(raw)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": raw})


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyTooLarge(Exception):
    def __init__(self, sent: int) -> None:
        super().__init__(sent)
        self.sent = sent


class ClientGuardMiddleware:
    """Bounds a request's body size and arrival time; cancels handlers of departed clients."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_timeout_s: float,
                 settings: dict[str, str] | None = None, admit: Admit | None = None,
                 check_body: CheckBody | None = None,
                 cap_query: Callable[[Scope], None] | None = None) -> None:
        self.app = app
        self.cap_query = cap_query
        self.admit = admit
        self.check_body = check_body
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        # limit name -> the variable that sets it, named in refusals
        self.settings = settings or {}

    def _raise_it(self, limit: str) -> str:
        setting = self.settings.get(limit)
        return f" (the operator sets it with {setting})" if setting else ""

    async def _too_large(self, send: Send, sent: int, declared: bool) -> None:
        said = f"{sent} bytes" if declared else f"more than {self.max_body_bytes} bytes"
        await send_json(send, 413, {
            "code": "LimitExceeded",
            "description": f"The request body is {said}: this service accepts at most "
                           f"{self.max_body_bytes} bytes{self._raise_it('body_bytes')}.",
            "limit": "body_bytes", "allowed": self.max_body_bytes, "sent": sent,
        }, [(b"connection", b"close")])

    async def _read_body(self, receive: Receive) -> tuple[list[Message], bool]:
        """The request's messages up to its last body part; True when the client left."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return messages, True
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                raise BodyTooLarge(size)
            if not message.get("more_body"):
                return messages, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Budgets first: they weigh the declared body, so a client sending oversized bodies
        # again and again spends its budget and is answered 429 (remembered, delayed) instead
        # of a fresh 413 and a fresh connection each time.
        if self.admit is not None and not await self.admit(scope, send):
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(send, declared, declared=True)
            return
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.body_timeout_s):
                messages, gone = await self._read_body(receive)
        except BodyTooLarge as e:
            await self._too_large(send, e.sent, declared=False)
            return
        except TimeoutError:
            logger.info("dropped %s %s: body not received in %.1f s", scope.get("method"),
                        scope.get("path"), time.monotonic() - started)
            await send_json(send, 408, {
                "code": "LimitExceeded",
                "description": f"The request body did not arrive within {self.body_timeout_s:g}"
                               f" s{self._raise_it('body_seconds')}; the connection is closed.",
                "limit": "body_seconds", "allowed": self.body_timeout_s,
                "sent": round(time.monotonic() - started, 1),
            }, [(b"connection", b"close")])
            return
        if gone:
            return
        if self.check_body is not None and scope.get("method") in ("POST", "PUT", "PATCH"):
            problem = self.check_body(scope, b"".join(m.get("body", b"") for m in messages))
            if problem is not None:
                logger.info("refused %s %s: %s", scope.get("method"), scope.get("path"),
                            problem.description)
                await send_json(send, 400, problem.body())
                return
        if self.cap_query is not None and scope.get("method") in ("GET", "HEAD"):
            self.cap_query(scope)
        if LIMIT_CAPPED in scope:
            messages, send = self._capped(scope, messages, send)
        await self._run_watched(scope, messages, receive, send)

    def _capped(self, scope: Scope, messages: list[Message], send: Send
                ) -> tuple[list[Message], Send]:
        """A capped page size made real (a body re-encoded with it) and stated (a header)."""
        asked, served = scope[LIMIT_CAPPED]
        if PARSED_BODY in scope and scope.get("method") not in ("GET", "HEAD"):
            body = orjson.dumps(scope[PARSED_BODY])
            messages = [{"type": "http.request", "body": body, "more_body": False}]
            scope["headers"] = [(k, v) for k, v in scope.get("headers", [])
                                if k.lower() != b"content-length"]
            scope["headers"].append((b"content-length", str(len(body)).encode()))
        warning = limit_warning(asked, served, self.settings.get("limit", ""))
        logger.info("capped %s %s: limit=%d served %d a page", scope.get("method"),
                    scope.get("path"), asked, served)

        async def stating(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"warning", warning)]}
            await send(message)

        return messages, stating

    async def _run_watched(self, scope: Scope, messages: list[Message], receive: Receive,
                           send: Send) -> None:
        departed = asyncio.Event()

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            await departed.wait()  # as the server would: the next message is the disconnect
            return {"type": "http.disconnect"}

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            departed.set()

        handler = asyncio.ensure_future(self.app(scope, replay, send))
        watcher = asyncio.ensure_future(watch())
        try:
            await asyncio.wait({handler, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            if not handler.done():
                handler.cancel()
                logger.info("client left %s %s: its handler is cancelled",
                            scope.get("method"), scope.get("path"))
            with contextlib.suppress(asyncio.CancelledError):
                await handler
