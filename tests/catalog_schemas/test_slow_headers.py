"""The header deadline of uvicorn's protocols (catalog_schemas/slow_headers.py, issue 25).

A real uvicorn server on 127.0.0.1, in a thread, with each protocol (httptools, the one the
services run, and h11): a client that sends half a header line and stalls, or nothing at all,
is disconnected; a complete request whose handler outlasts the deadline is answered, and so is
the next request on the same connection.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from catalog_schemas.slow_headers import H11HeaderTimeoutProtocol, HeaderTimeoutProtocol
from tests.servers import free_port

DEADLINE_S = 0.5


async def slow_app(scope: dict, receive: object, send: object) -> None:
    """Answers ``ok`` after twice the header deadline."""
    if scope["type"] != "http":
        return
    await asyncio.sleep(2 * DEADLINE_S)
    await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


@pytest.fixture(params=[HeaderTimeoutProtocol, H11HeaderTimeoutProtocol],
                ids=lambda p: p.__name__)
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[tuple[str, int]]:
    monkeypatch.setenv("EARTHSIG_HEADER_TIMEOUT_S", str(DEADLINE_S))
    port = free_port()
    config = uvicorn.Config(slow_app, host="127.0.0.1", port=port, http=request.param,
                            log_level="warning", lifespan="off")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield "127.0.0.1", port
    served.should_exit = True
    thread.join(10)


def _closed_by_server(sock: socket.socket) -> bool:
    """True when the server closes the connection (recv gives b"" or a reset) before the
    socket's timeout, which is many times the deadline."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.parametrize("sent", [b"", b"GET / HTTP/1.1\r\nHost: x\r\nX-Half: abc"],
                         ids=["nothing", "half a header"])
def test_a_client_stalling_in_its_headers_is_disconnected(server: tuple[str, int],
                                                          sent: bytes) -> None:
    with socket.create_connection(server, timeout=20 * DEADLINE_S) as sock:
        sock.sendall(sent)
        assert _closed_by_server(sock)


def test_complete_headers_stop_the_deadline_and_keep_alive_rearms_it(
        server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=20 * DEADLINE_S) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # answered after 2 deadlines
        answer = b""
        while not answer.endswith(b"ok"):
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the next request's head, stalled
        assert _closed_by_server(sock)
