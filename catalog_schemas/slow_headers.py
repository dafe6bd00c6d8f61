"""uvicorn's HTTP protocol with a deadline on a request's headers (slowloris on the headers).

uvicorn bounds the idle time between requests (``--timeout-keep-alive``) and, here, the
guard middleware bounds a body's arrival (:mod:`catalog_schemas.client_guards`), but nothing
bounds the headers: a client that connects and sends nothing, or half a header line and then
a byte now and then, holds its connection for ever, and enough of them hold every socket the
process may open. :class:`HeaderTimeoutProtocol` (uvicorn's own protocol, the one ``--http
auto`` would pick, with a timer) closes a connection whose request's headers are not complete
``EARTHSIG_HEADER_TIMEOUT_S`` after it opened or after the request's first byte came; the
timer stops when the headers are complete, so a slow body or a slow handler is not its
business. The services are started with it::

    uvicorn --http catalog_schemas.slow_headers:HeaderTimeoutProtocol ...

(``infra/stack.py``, ``python -m stac_api``, ``python -m tiler``, the tests' servers;
``catalog_schemas.header_deadline.HEADER_TIMEOUT_PROTOCOL`` names it without importing
uvicorn).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from catalog_schemas.header_deadline import HeaderTimeoutSettings

logger = logging.getLogger(__name__)

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - uvicorn without httptools uses h11
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


class _HeaderDeadline(asyncio.Protocol):
    """The timer both protocols share: armed while a request's headers are awaited. First in
    the bases of a uvicorn protocol, whose methods ``super()`` reaches."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    client: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # uvicorn's protocol, next in the bases
        self.header_timeout_s = HeaderTimeoutSettings().header_timeout_s
        self.header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(self.header_timeout_s,
                                                        self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_too_slow(self) -> None:
        self.header_deadline = None
        if not self.transport.is_closing():
            logger.info("closed the connection of %s: request headers not complete within "
                        "%g s (EARTHSIG_HEADER_TIMEOUT_S)", self.client, self.header_timeout_s)
            self.transport.close()


class H11HeaderTimeoutProtocol(_HeaderDeadline, H11Protocol):
    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:  # a request's first bytes, or more of its head
            self._arm_header_deadline()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()


HeaderTimeoutProtocol: type[asyncio.Protocol] = H11HeaderTimeoutProtocol

if HttpToolsProtocol is not None:

    class HttpToolsHeaderTimeoutProtocol(_HeaderDeadline, HttpToolsProtocol):
        def on_message_begin(self) -> None:  # a request's first byte
            super().on_message_begin()
            self._arm_header_deadline()

        def on_headers_complete(self) -> None:
            self._disarm_header_deadline()
            super().on_headers_complete()

    HeaderTimeoutProtocol = HttpToolsHeaderTimeoutProtocol  # as ``--http auto`` would pick
