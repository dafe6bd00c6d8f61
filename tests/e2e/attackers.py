"""Five hostile clients for the load test, in a process of their own (issue 25).

``python -m tests.e2e.attackers API TILER SECONDS OUT.json`` runs, each from its own address
(``X-Forwarded-For``) and as fast as the servers answer: a 20 MB search body, a
50 000-vertex ``intersects`` polygon, a 50 000-id search, a body trickled a few bytes a second,
and a flood of distinct tiler search registrations. It writes what each got back: statuses,
and the refusals whose body does not name the limit hit (there should be none).
A process of its own, so that the attackers' CPU is not the normal clients' event loop.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

Result = dict[str, Counter[str]]
JSON = {"content-type": "application/json"}


def _named(status: int, body: bytes) -> bool:
    """A refusal tells which limit it hit."""
    try:
        return status < 400 or "limit" in json.loads(body)
    except ValueError:
        return False


async def _raw(url: str, head: bytes, body_parts: Callable[[], Awaitable[bytes | None]]
               ) -> tuple[int, bytes]:
    """Send ``head``, then the parts until None or the server answers; the status and body."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head)
        answer = asyncio.ensure_future(reader.read())
        while not answer.done():
            part = await body_parts()
            if part is None:
                break
            writer.write(part)
            try:
                await writer.drain()
            except ConnectionError:
                break
        raw = await answer
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    status = int(status_line.split()[1]) if status_line.startswith(b"HTTP/") else 0
    return status, rest.partition(b"\r\n\r\n")[2]


def _head(path: str, length: int, address: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-Forwarded-For: {address}\r\nContent-Length: {length}\r\n"
            "Connection: close\r\n\r\n").encode()


async def oversized_bodies(api: str, tiler: str, result: Result) -> None:
    chunk = b" " * 65536

    async def parts() -> bytes | None:
        return chunk

    status, body = await _raw(api, _head("/search", 20_000_000, "10.66.0.1"), parts)
    _count(result, "oversized_body", status, body)


async def slow_bodies(api: str, tiler: str, result: Result) -> None:
    async def parts() -> bytes | None:
        await asyncio.sleep(1)
        return b" " * 8

    status, body = await _raw(api, _head("/search", 100_000, "10.66.0.2"), parts)
    _count(result, "slow_body", status, body)


def _polygon(vertices: int) -> dict:
    ring = [[2 + math.cos(2 * math.pi * i / vertices), 48 + math.sin(2 * math.pi * i / vertices)]
            for i in range(vertices)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


# Serialised once: the attackers' CPU is the servers' too on a small machine.
HUGE_POLYGON = json.dumps({"intersects": _polygon(50_000)}).encode()
MANY_IDS = json.dumps({"ids": [f"id-{i}" for i in range(50_000)]}).encode()


async def huge_polygons(api: str, tiler: str, result: Result, client: httpx.AsyncClient
                        ) -> None:
    response = await client.post(f"{api}/search", content=HUGE_POLYGON,
                                 headers={"X-Forwarded-For": "10.66.0.3", **JSON})
    _count(result, "huge_polygon", response.status_code, response.content)


async def many_ids(api: str, tiler: str, result: Result, client: httpx.AsyncClient) -> None:
    response = await client.post(f"{api}/search", content=MANY_IDS,
                                 headers={"X-Forwarded-For": "10.66.0.4", **JSON})
    _count(result, "many_ids", response.status_code, response.content)


async def registration_flood(api: str, tiler: str, result: Result,
                             client: httpx.AsyncClient) -> None:
    response = await client.post(f"{tiler}/searches/register",
                                 json={"collections": [f"flood-{time.monotonic_ns()}"]},
                                 headers={"X-Forwarded-For": "10.66.0.5"})
    _count(result, "registration_flood", response.status_code, response.content)


def _count(result: Result, kind: str, status: int, body: bytes) -> None:
    result.setdefault(kind, Counter())[str(status)] += 1
    if not _named(status, body):
        result.setdefault("unnamed_refusals", Counter())[f"{kind} {status} {body[:200]!r}"] += 1


async def _repeat(attack: Callable[..., Awaitable[None]], deadline: float, result: Result,
                  *args: object) -> None:
    while time.monotonic() < deadline:
        try:
            await attack(*args, result)
        except (httpx.HTTPError, OSError) as e:  # dropped by the server: also a refusal
            result.setdefault(attack.__name__, Counter())["dropped"] += 1
            result.setdefault("dropped_by", Counter())[type(e).__name__] += 1


async def attack(api: str, tiler: str, seconds: float) -> Result:
    result: Result = {}
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=60) as client:
        def with_client(attack: Callable[..., Awaitable[None]]
                        ) -> Callable[..., Awaitable[None]]:
            async def run(a: str, t: str, r: Result) -> None:
                await attack(a, t, r, client)
            run.__name__ = attack.__name__
            return run

        attacks = [oversized_bodies, slow_bodies, with_client(huge_polygons),
                   with_client(many_ids), with_client(registration_flood)]
        await asyncio.gather(*(_repeat(a, deadline, result, api, tiler) for a in attacks))
    return result


def main() -> None:
    api, tiler, seconds, out = sys.argv[1:5]
    Path(out).write_text(json.dumps(asyncio.run(attack(api, tiler, float(seconds)))))


if __name__ == "__main__":
    main()
