"""Five hostile clients for the load test, in a process of their own (issue 25).

``python -m tests.e2e.attackers API TILER SECONDS OUT.json`` runs, each from its own address
(``X-Forwarded-For``) and as fast as the servers answer: a 20 MB search body, a
20 000-vertex ``intersects`` polygon (under the body limit: it is parsed and counted), a
50 000-id search, a body trickled a few bytes a second, and a flood of distinct tiler search
registrations. It writes what each got back: statuses, and the refusals whose body does not
name the limit hit (there should be none).

A process of its own, so that the attackers' CPU is not the normal clients' event loop; and
a small one: on this machine the attackers share its cores with the servers (a real attacker
spends its own), so every request is built once, as bytes, and sent on a raw keep-alive
connection (no HTTP client library per request).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

Result = dict[str, Counter[str]]
Parts = Callable[[], Awaitable[bytes | None]]


def _named(status: int, body: bytes) -> bool:
    """A refusal tells which limit it hit."""
    try:
        return status < 400 or "limit" in json.loads(body)
    except ValueError:
        return False


def _request(path: str, address: str, body: bytes, length: int | None = None) -> bytes:
    """A POST of ``body`` (its head only when ``length`` says more is to come)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-Forwarded-For: {address}\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n\r\n").encode()
    return head + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, whether the server keeps the connection) of one response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), body, headers.get("connection") != "close"


class Connection:
    """One keep-alive connection to ``url``, opened again when the server closes it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def exchange(self, request: bytes, more: Parts | None = None) -> tuple[int, bytes]:
        """Send ``request`` (then ``more()`` parts until None or the answer); the answer."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        answer = asyncio.ensure_future(_answer(reader))
        try:
            writer.write(request)
            while more is not None and not answer.done():
                part = await more()
                if part is None:
                    break
                writer.write(part)
                await writer.drain()
        except ConnectionError:
            pass  # refused before the body was all sent: the answer says why
        try:
            status, body, keep = await answer
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        return status, body

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


def _polygon(vertices: int) -> dict:
    ring = [[round(2 + math.cos(2 * math.pi * i / vertices), 6),
             round(48 + math.sin(2 * math.pi * i / vertices), 6)] for i in range(vertices)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


# Built once: the attackers' CPU is the servers' too on a small machine.
OVERSIZED = _request("/search", "10.66.0.1", b"", length=20_000_000)
CHUNK_OF_SPACES = b" " * 65536
SLOW = _request("/search", "10.66.0.2", b"", length=100_000)
HUGE_POLYGON = _request("/search", "10.66.0.3",
                        json.dumps({"intersects": _polygon(20_000)}).encode())
MANY_IDS = _request("/search", "10.66.0.4",
                    json.dumps({"ids": [f"id-{i}" for i in range(50_000)]}).encode())


async def oversized_bodies(api: str, tiler: str) -> AsyncIterator[tuple[int, bytes]]:
    async def parts() -> bytes | None:
        return CHUNK_OF_SPACES

    connection = Connection(api)
    while True:
        yield await connection.exchange(OVERSIZED, parts)


async def slow_bodies(api: str, tiler: str) -> AsyncIterator[tuple[int, bytes]]:
    async def parts() -> bytes | None:
        await asyncio.sleep(1)
        return b" " * 8

    connection = Connection(api)
    while True:
        yield await connection.exchange(SLOW, parts)


async def huge_polygons(api: str, tiler: str) -> AsyncIterator[tuple[int, bytes]]:
    connection = Connection(api)
    while True:
        yield await connection.exchange(HUGE_POLYGON)


async def many_ids(api: str, tiler: str) -> AsyncIterator[tuple[int, bytes]]:
    connection = Connection(api)
    while True:
        yield await connection.exchange(MANY_IDS)


async def registration_flood(api: str, tiler: str) -> AsyncIterator[tuple[int, bytes]]:
    connection = Connection(tiler)
    n = 0
    while True:
        n += 1
        body = b'{"collections": ["flood-%d"]}' % n
        yield await connection.exchange(_request("/searches/register", "10.66.0.5", body))


Attack = Callable[[str, str], AsyncIterator[tuple[int, bytes]]]


def _count(result: Result, kind: str, status: int, body: bytes) -> None:
    result.setdefault(kind, Counter())[str(status)] += 1
    if not _named(status, body):
        result.setdefault("unnamed_refusals", Counter())[f"{kind} {status} {body[:200]!r}"] += 1


async def _repeat(attack: Attack, api: str, tiler: str, result: Result) -> None:
    kind = attack.__name__
    answers = attack(api, tiler)
    while True:
        try:
            status, body = await anext(answers)
        except (OSError, asyncio.IncompleteReadError) as e:  # dropped: also a refusal
            result.setdefault(kind, Counter())["dropped"] += 1
            result.setdefault("dropped_by", Counter())[type(e).__name__] += 1
            answers = attack(api, tiler)
            continue
        _count(result, kind, status, body)


async def attack(api: str, tiler: str, seconds: float) -> Result:
    result: Result = {}
    attacks = [oversized_bodies, slow_bodies, huge_polygons, many_ids, registration_flood]
    tasks = [asyncio.ensure_future(_repeat(a, api, tiler, result)) for a in attacks]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return result


def main() -> None:
    api, tiler, seconds, out = sys.argv[1:5]
    Path(out).write_text(json.dumps(asyncio.run(attack(api, tiler, float(seconds)))))


if __name__ == "__main__":
    main()
