"""What a request spends from its client's budget (catalog_schemas/rate_limits.py, issue 25):
one, plus one per 64 KiB of declared body; a refused client stays refused until its
Retry-After without the store being asked again. The ``limits`` library's in-process storage,
the same code path as Redis minus the network (the services' Redis is tested over HTTP in
tests/stac_api/test_client_limits.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from catalog_schemas.rate_limits import BODY_BYTES_PER_COST, Budgets, RateLimiter


def _scope(body_bytes: int, address: str = "10.0.0.1") -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/search", "client": (address, 1),
            "headers": [(b"content-length", str(body_bytes).encode())]}


async def _admit(limiter: RateLimiter, scope: dict[str, Any]) -> tuple[bool, list[dict]]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    return await limiter.admit(scope, send), sent


def test_a_large_body_spends_more_of_the_budget_and_a_refusal_is_remembered() -> None:
    limiter = RateLimiter(budgets=Budgets({"search": "10/minute"}),
                          classify=lambda method, path: "search", repeat_delay_s=0)

    async def run() -> None:
        # 5 x 64 KiB + 1 byte: 1 + 5 = 6 of the 10; a second one does not fit, a small one does.
        large = _scope(5 * BODY_BYTES_PER_COST + 1)
        assert (await _admit(limiter, large))[0]
        admitted, sent = await _admit(limiter, large)
        assert not admitted and sent[0]["status"] == 429
        body = json.loads(sent[1]["body"])
        assert body["limit"] == "rate_search" and "64 KiB" in body["description"]
        # Refused: remembered, so even a request that would fit is refused until Retry-After,
        # and the storage is not asked (its count stays where it was).
        before = await limiter.limiter.get_window_stats(limiter.items["search"][0], "search",
                                                        "addr:10.0.0.1")
        assert not (await _admit(limiter, _scope(10)))[0]
        after = await limiter.limiter.get_window_stats(limiter.items["search"][0], "search",
                                                       "addr:10.0.0.1")
        assert before.remaining == after.remaining == 4
        assert (await _admit(limiter, _scope(10, "10.0.0.2")))[0]  # another client

    asyncio.run(run())
