"""Discovery: which Sentinel-2 products to process, found with EODAG, minus those done.

``discover`` searches (``search.search_products``), drops the products the catalog already
holds for the model version (``catalogued.catalogued_products``), and, when asked, queues the
rest: a provider's STAC item URL when its COG bands can be read in place, else EODAG's
description of the product, for the fetch stage to download (``ingest.fetch``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry

from ingest.discovery.aoi import AoiError, load_aoi
from ingest.discovery.catalogued import catalogued_products
from ingest.discovery.search import (
    DEFAULT_PROVIDER,
    Candidate,
    DiscoveryError,
    search_products,
)

__all__ = ["DEFAULT_PROVIDER", "AoiError", "Candidate", "Discovered", "DiscoveryError",
           "discover", "enqueue_candidates", "load_aoi", "make_gateway"]


@dataclass
class Discovered:
    new: list[Candidate]
    skipped: list[Candidate] = field(default_factory=list)  # already catalogued
    model: str = ""


def make_gateway() -> Any:
    """EODAG, configured from its own files and ``EODAG_*`` variables."""
    from eodag import EODataAccessGateway

    return EODataAccessGateway()


def discover(dag: Any, *, start: dt.date, end: dt.date, aoi: BaseGeometry, max_cloud: float,
             model_ref: str, provider: str = DEFAULT_PROVIDER, level: str = "L2A",
             dsn: str = "", page_size: int = 100) -> Discovered:
    """Products to process for ``model_ref`` (``name:version``), and those skipped."""
    if end < start:
        raise DiscoveryError(f"end {end} is before start {start}")
    found = search_products(dag, start=start, end=end, aoi=aoi, max_cloud=max_cloud,
                            provider=provider, level=level, page_size=page_size)
    done = catalogued_products([c.id for c in found], model_ref, dsn)
    return Discovered(new=[c for c in found if c.id not in done],
                      skipped=[c for c in found if c.id in done], model=model_ref)


def enqueue_candidates(candidates: list[Candidate], model_ref: str, *,
                       connection: Any, ingest: Any = None,
                       inference: Any = None) -> list[Any]:
    """Queue each candidate; return ``enqueue_source``'s answers. Nothing is downloaded here:
    a SAFE zip is queued as EODAG's description of it, which the fetch stage downloads."""
    from ingest.fetch import ProductSource
    from ingest.orchestration.queue import enqueue_product, enqueue_source

    queued = []
    for candidate in candidates:
        if candidate.item_href:  # read in place; its item checked (and its id read) here
            queued.append(enqueue_product(candidate.item_href, model_ref,
                                          connection=connection, ingest=ingest,
                                          inference=inference))
        else:
            queued.append(enqueue_source(ProductSource.of_eodag(candidate.product), model_ref,
                                         connection=connection, ingest=ingest,
                                         inference=inference))
    return queued
