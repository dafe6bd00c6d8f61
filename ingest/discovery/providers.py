"""Searching several providers in order of preference, each retried with bounded back-off.

Not EODAG's own fallback (``search`` without a provider): it moves on when a provider answers
*nothing* as well as when it fails, so an empty day and an outage look alike, it does not
retry, and it covers the first page only (a failure on a later page is not failed over). What
EODAG does give is used: its providers, their priorities (``*``), its per-request retries
(``retry_total``, ``retry_backoff_factor`` of each provider's search configuration). One
provider answers a whole run, every level and page: results of providers are never mixed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shapely.geometry.base import BaseGeometry

from ingest.discovery.runs import Attempt
from ingest.discovery.search import Candidate, DiscoveryError, collection_for, search_level

log = logging.getLogger(__name__)


class ProvidersFailedError(DiscoveryError):
    """No provider answered; ``attempts`` says what each answered instead."""

    def __init__(self, attempts: list[Attempt]) -> None:
        super().__init__("every provider failed: " + "; ".join(
            f"{a.provider}: {a.error}" for a in attempts) if attempts else "no provider")
        self.attempts = attempts


@dataclass
class Searched:
    provider: str
    candidates: list[Candidate]
    attempts: list[Attempt]


def providers_in_order(dag: Any, wanted: Sequence[str], levels: Sequence[str]) -> list[str]:
    """``wanted`` with ``*`` replaced by every other provider EODAG offers any of ``levels``
    from, by EODAG's priority (highest first)."""
    if "*" not in wanted:
        return list(wanted)
    offering = [name for name, provider in dag.providers.items()
                if any(collection_for(name, level) in provider.collections_config
                       for level in levels)]
    out: list[str] = []
    for name in wanted:
        for one in (offering if name == "*" else [name]):
            if one not in out and (name != "*" or one not in wanted):
                out.append(one)
    return out


def search_providers(dag: Any, providers: Sequence[str], *, levels: Sequence[str],
                     start: dt.date, end: dt.date, aoi: BaseGeometry, attempts: int,
                     delays_s: Sequence[float], page_size: int = 100,
                     sleep: Callable[[float], None] = time.sleep) -> Searched:
    """Every level's products from the first provider that answers; ``DiscoveryError`` (with
    the attempts in ``.attempts``) when none does."""
    tried: list[Attempt] = []
    for provider in providers:
        for attempt in range(attempts):
            try:
                found = [c for level in levels_offered(dag, provider, levels)
                         for c in search_level(dag, start=start, end=end, aoi=aoi,
                                               provider=provider, level=level,
                                               page_size=page_size)]
            except DiscoveryError as exc:
                tried.append(Attempt(provider, ok=False, error=str(exc)))
                log.warning("discovery: %s (attempt %d/%d)", exc, attempt + 1, attempts)
                if attempt + 1 < attempts:
                    sleep(delays_s[min(attempt, len(delays_s) - 1)] if delays_s else 0.0)
                continue
            tried.append(Attempt(provider, ok=True))
            return Searched(provider, found, tried)
    raise ProvidersFailedError(tried)


def levels_offered(dag: Any, provider: str, levels: Sequence[str]) -> list[str]:
    """The ``levels`` the provider has a collection for (all of them for a provider EODAG does
    not know: its search then fails with EODAG's own message)."""
    try:
        offered = dag.providers[provider].collections_config
    except KeyError:
        return list(levels)
    return [level for level in levels if collection_for(provider, level) in offered]
