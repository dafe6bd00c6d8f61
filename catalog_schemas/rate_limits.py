"""Per-client request budgets shared by every API and tiler process (pure ASGI, ``limits``).

Each request falls in a budget class chosen by its service (``read``: cheap reads and tiles,
``search``: searches and mosaics, ``write``: catalog writes and search registrations); each
client has one budget per class: so many requests per window, counted in a moving window
(the ``limits`` library's ``MovingWindowRateLimiter``) in Redis, so that every process of
every service spends from the same budget. Past it: 429 with ``Retry-After``, the seconds
until the oldest counted request leaves the window, and our ``{code, description}`` naming
the budget.

A request spends one from its budget, plus one for every 64 KiB its body declares
(``Content-Length``, known before the body is read): a 0.5 MB search is nine searches' worth,
since reading and parsing it costs about that (each a few ms of the process's one event loop).

A client is its API key when it sends one the service knows (``key_factor`` times the
budgets), otherwise its address: the socket's, or the first proxy hop uvicorn trusts
(``--forwarded-allow-ips``). An unknown key counts as no key, so inventing keys buys nothing.

Without a Redis URL the counts live in the process (``memory://``): a single process is
protected, several are each on their own. When Redis cannot be reached, requests pass (a
warning is logged): the budgets protect the service, they must not take it down.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from catalog_schemas.client_guards import Scope, Send, send_json

logger = logging.getLogger(__name__)

Classify = Callable[[str, str], str | None]  # (method, path) -> budget class, None: free
BODY_BYTES_PER_COST = 65536  # a request costs 1 + one per this many bytes of declared body


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


def _declared_length(scope: Scope) -> int:
    length = _header(scope, b"content-length")
    return int(length) if length and length.isdigit() else 0


def _has_body(scope: Scope) -> bool:
    return _declared_length(scope) > 0 or _header(scope, b"transfer-encoding") is not None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RateLimiter:
    """429 with ``Retry-After`` once a client has spent its budget for the request's class.

    :meth:`admit` is the ``admit`` of :class:`catalog_schemas.client_guards.ClientGuardMiddleware`:
    asked before a body is read. A refusal is remembered in the process until its
    ``Retry-After``: no request of that client and class can pass before then (the window's
    count only falls when its oldest request leaves), so a client flooding past its budget
    costs no Redis round trip per request, only the 429. And that 429, to a client already
    told to wait, comes after ``repeat_delay_s`` (at most its ``Retry-After``): a client
    that asks again at once, on one connection, asks once a second instead of thousands of
    times (29 898 refusals in 15 s from one registration flood on the load test) -- waiting
    costs the server nothing, answering costs it a parse and a send each.
    """

    MAX_REMEMBERED = 10_000  # refused (client, class) pairs kept; past it the expired go

    def __init__(self, *, budgets: Budgets, classify: Classify, storage_url: str = "",
                 prefix: str = "earthsig-rate", setting: str = "",
                 repeat_delay_s: float = 1.0) -> None:
        self.classify = classify
        self.repeat_delay_s = repeat_delay_s
        self.budgets = budgets
        self.items = budgets.items()
        self.limiter = MovingWindowRateLimiter(storage_for(storage_url, prefix))
        self.key_header = budgets.key_header.lower().encode()
        self.setting = setting  # the variables' prefix, named in refusals
        self.refused_until: dict[tuple[str, str], float] = {}  # (who, class) -> epoch s

    def client(self, scope: Scope) -> tuple[str, bool]:
        """(who spends, whether with a known key)."""
        key = _header(scope, self.key_header)
        if key and key in self.budgets.keys:
            return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16], True
        host = (scope.get("client") or ("unknown", 0))[0]
        return f"addr:{host}", False

    async def _reset_time(self, item: RateLimitItem, budget: str, who: str,
                          cost: int) -> float | None:
        """When ``who`` may spend from ``budget`` again (epoch s); None: now."""
        remembered = self.refused_until.get((who, budget))
        now = time.time()
        if remembered is not None and remembered > now:
            await asyncio.sleep(min(self.repeat_delay_s, remembered - now))
            return remembered
        try:
            if await self.limiter.hit(item, budget, who, cost=cost):
                return None
            stats = await self.limiter.get_window_stats(item, budget, who)
        except Exception as e:  # noqa: BLE001 - an unreachable Redis must not refuse reads
            logger.warning("rate limits not applied (%s: %s)", type(e).__name__, e)
            return None
        if len(self.refused_until) >= self.MAX_REMEMBERED:
            now = time.time()
            self.refused_until = {k: t for k, t in self.refused_until.items() if t > now}
        self.refused_until[(who, budget)] = stats.reset_time
        return float(stats.reset_time)

    async def admit(self, scope: Scope, send: Send) -> bool:
        """True when the request may go on; otherwise the 429 is sent."""
        budget = self.classify(scope.get("method", "GET"), scope.get("path", ""))
        if budget is None or budget not in self.items:
            return True
        who, keyed = self.client(scope)
        item = self.items[budget][1 if keyed else 0]
        cost = min(item.amount, 1 + _declared_length(scope) // BODY_BYTES_PER_COST)
        reset = await self._reset_time(item, budget, who, cost)
        if reset is None:
            return True
        retry = max(1, math.ceil(reset - time.time()))
        setting = f" ({self.setting}{budget.upper()})" if self.setting else ""
        await send_json(send, 429, {
            "code": "TooManyRequests",
            "description": f"This client ({who.split(':', 1)[1] if not keyed else 'API key'})"
                           f" has used its {budget} budget of {item.amount} requests per "
                           f"{item.multiples} {item.GRANULARITY.name}{setting}, a request "
                           f"counting one more for each {BODY_BYTES_PER_COST // 1024} KiB of its"
                           f" body: retry in {retry} s.",
            "limit": f"rate_{budget}", "allowed": item.amount, "retry_after_s": retry,
        }, [(b"retry-after", str(retry).encode()),
            # Its body is not read: what is still coming is no next request, so the
            # connection ends here (as with a 413).
            *([(b"connection", b"close")] if _has_body(scope) else [])])
        return False
