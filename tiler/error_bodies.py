"""Every 4xx of the tiler as ``{code, description, detail}``, whoever answered it.

titiler's exception handlers, FastAPI's validation handler, our client-fault handlers and
the size limits each answer ``{"detail": ...}``. Rather than replace each (and whatever is
added later), the outermost middleware rewrites any JSON 4xx that carries a ``detail`` and no
``description``: ``description`` says it for a person (:mod:`tiler.error_messages`), ``code``
names it as the STAC API's errors do, and ``detail`` stays as it was, since titiler's clients
and the web map read it. Our own refusals of a parameter (:func:`invalid_parameter`: the model
versions) are written in that shape at once, in the words only they know.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiler.error_messages import describe_detail, describe_validation, problem

INVALID_PARAMETER = "InvalidParameter"


def _code(status: int, detail: Any) -> str:
    if isinstance(detail, list):
        return INVALID_PARAMETER
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "Error"
    return phrase.title().replace(" ", "").replace("-", "")


def invalid_parameter(parameter: str, reason: str, got: Any = None,
                      expected: str | None = None) -> dict[str, Any]:
    """The body refusing a query parameter: ``parameter: reason (got value); expected form``
    as ``description``, and as ``detail`` for the clients that read titiler's."""
    description = problem(parameter, reason, got, expected)
    return {"code": INVALID_PARAMETER, "description": description, "detail": description}


def rewritten(body: bytes, status: int, path: str, query: dict[str, str]) -> bytes | None:
    """The body with ``code`` and ``description`` added, or ``None`` to leave it as it is."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or "detail" not in answer or "description" in answer:
        return None
    detail = answer["detail"]
    if isinstance(detail, list):
        description = describe_validation(detail, query)
    else:
        description = describe_detail(str(detail), path, query)
    return json.dumps({"code": answer.get("code") or _code(status, detail),
                       "description": description, **answer}, ensure_ascii=False).encode()


class ErrorBodyMiddleware:
    """Adds ``code`` and ``description`` to the JSON body of every 4xx answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def send_rewritten(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if 400 <= message["status"] < 500 and headers.get(
                        b"content-type", b"").startswith(b"application/json"):
                    held = message  # sent with the body, once its length is known
                    return
            elif message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(chunks)
                query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
                body = rewritten(body, held["status"], scope.get("path", ""), query) or body
                kept = [(k, v) for k, v in held.get("headers") or []
                        if k.lower() != b"content-length"]
                await send({**held, "headers": [*kept,
                                                (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, send_rewritten)
