"""Per-client request budgets shared by every API and tiler process (pure ASGI, ``limits``).

Each request falls in a budget class chosen by its service (``read``: cheap reads and tiles,
``search``: searches and mosaics, ``write``: catalog writes and search registrations); each
client has one budget per class: so many requests per window, counted in a moving window
(the ``limits`` library's ``MovingWindowRateLimiter``) in Redis, so that every process of
every service spends from the same budget. Past it: 429 with ``Retry-After``, the seconds
until the oldest counted request leaves the window, and our ``{code, description}`` naming
the budget.

A client is its API key when it sends one the service knows (``key_factor`` times the
budgets), otherwise its address: the socket's, or the first proxy hop uvicorn trusts
(``--forwarded-allow-ips``). An unknown key counts as no key, so inventing keys buys nothing.

Without a Redis URL the counts live in the process (``memory://``): a single process is
protected, several are each on their own. When Redis cannot be reached, requests pass (a
warning is logged): the budgets protect the service, they must not take it down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from catalog_schemas.client_guards import ASGIApp, Receive, Scope, Send, send_json

logger = logging.getLogger(__name__)

Classify = Callable[[str, str], str | None]  # (method, path) -> budget class, None: free


@dataclass(frozen=True)
class Budgets:
    """Budget per class in ``limits`` notation (``"600/minute"``), and what keys get."""

    per_class: Mapping[str, str]
    key_factor: int = 10
    keys: frozenset[str] = field(default_factory=frozenset)
    key_header: str = "X-API-Key"

    def items(self) -> dict[str, tuple[RateLimitItem, RateLimitItem]]:
        """class -> (anonymous budget, key budget)."""
        found = {}
        for name, text in self.per_class.items():
            item = parse(text)
            keyed = type(item)(item.amount * self.key_factor, item.multiples,
                               namespace=item.namespace)
            found[name] = (item, keyed)
        return found


def storage_for(url: str, prefix: str) -> Storage:
    """Redis at ``url`` (the services' redis-py client), or this process's memory."""
    if not url:
        return MemoryStorage()
    return RedisStorage(f"async+{url}" if url.startswith("redis") else url,
                        implementation="redispy", key_prefix=prefix)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RateLimitMiddleware:
    """429 with ``Retry-After`` once a client has spent its budget for the request's class."""

    def __init__(self, app: ASGIApp, *, budgets: Budgets, classify: Classify,
                 storage_url: str = "", prefix: str = "earthsig-rate",
                 setting: str = "") -> None:
        self.app = app
        self.classify = classify
        self.budgets = budgets
        self.items = budgets.items()
        self.limiter = MovingWindowRateLimiter(storage_for(storage_url, prefix))
        self.key_header = budgets.key_header.lower().encode()
        self.setting = setting  # the variables' prefix, named in refusals

    def client(self, scope: Scope) -> tuple[str, bool]:
        """(who spends, whether with a known key)."""
        key = _header(scope, self.key_header)
        if key and key in self.budgets.keys:
            return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16], True
        host = (scope.get("client") or ("unknown", 0))[0]
        return f"addr:{host}", False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        budget = self.classify(scope.get("method", "GET"), scope.get("path", ""))
        if budget is None or budget not in self.items:
            await self.app(scope, receive, send)
            return
        who, keyed = self.client(scope)
        item = self.items[budget][1 if keyed else 0]
        try:
            allowed = await self.limiter.hit(item, budget, who)
            if not allowed:
                stats = await self.limiter.get_window_stats(item, budget, who)
        except Exception as e:  # noqa: BLE001 - an unreachable Redis must not refuse reads
            logger.warning("rate limits not applied (%s: %s)", type(e).__name__, e)
            allowed = True
        if allowed:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        setting = f" ({self.setting}{budget.upper()})" if self.setting else ""
        await send_json(send, 429, {
            "code": "TooManyRequests",
            "description": f"This client ({who.split(':', 1)[1] if not keyed else 'API key'})"
                           f" has used its {budget} budget of {item.amount} requests per "
                           f"{item.multiples} {item.GRANULARITY.name}{setting}: retry in "
                           f"{retry} s.",
            "limit": f"rate_{budget}", "allowed": item.amount, "retry_after_s": retry,
        }, [(b"retry-after", str(retry).encode())])
