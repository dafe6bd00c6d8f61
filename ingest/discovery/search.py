"""Searching a provider for Sentinel-2 products with EODAG, every page of the answer.

EODAG is configured the way its documentation says (``EODAG_CFG_DIR``, its ``eodag.yml``,
``EODAG__<PROVIDER>__AUTH__CREDENTIALS__*`` variables for credentials); this module never sees
a credential. Each product becomes a ``Candidate``: what to process (the STAC item URL, when
the provider serves COG bands that can be read in place) or what to download (a SAFE zip).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from ingest.errors import IngestError

DEFAULT_PROVIDER = "earth_search"
DEFAULT_PAGE_SIZE = 100
# EODAG's collection ids; earth_search serves L2A as COGs under its own id.
COLLECTIONS = {"L2A": "S2_MSI_L2A", "L1C": "S2_MSI_L1C"}
PROVIDER_COLLECTIONS = {("earth_search", "L2A"): "S2_MSI_L2A_COG"}
COG_BANDS = ("B02", "blue")


class DiscoveryError(IngestError):
    """A search that could not be made or answered: the provider's message, no traceback."""


@dataclass(frozen=True)
class Candidate:
    """One product found by a search."""

    id: str
    datetime: str
    cloud_cover: float | None
    provider: str
    geometry: BaseGeometry = field(repr=False)
    item_href: str | None = None  # the provider's STAC item (COG bands read in place)
    download_href: str | None = None  # a whole product to download (SAFE zip)
    product: Any = field(default=None, repr=False, compare=False)  # EODAG's, to download
    level: str = ""  # "L2A" or "L1C": what was searched for
    platform: str = ""  # "sentinel-2a"...
    properties: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def streamable(self) -> bool:
        return self.item_href is not None

    def cloudless_enough(self, max_cloud: float) -> bool:
        """At most ``max_cloud`` percent cloud (unknown cover is given the benefit of doubt:
        the cloud mask of the pipeline deals with it)."""
        return self.cloud_cover is None or self.cloud_cover <= max_cloud

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "datetime": self.datetime, "cloud_cover": self.cloud_cover,
                "provider": self.provider, "item_href": self.item_href,
                "download_href": self.download_href, "bbox": list(self.geometry.bounds)}


def collection_for(provider: str, level: str) -> str:
    if level not in COLLECTIONS:
        raise DiscoveryError(f"level {level!r} is not one of {', '.join(COLLECTIONS)}")
    return PROVIDER_COLLECTIONS.get((provider, level), COLLECTIONS[level])


def search_products(dag: Any, *, start: dt.date, end: dt.date, aoi: BaseGeometry,
                    max_cloud: float, provider: str = DEFAULT_PROVIDER, level: str = "L2A",
                    page_size: int = DEFAULT_PAGE_SIZE) -> list[Candidate]:
    """Products sensed from ``start`` to ``end`` (whole days, inclusive) intersecting ``aoi``
    with at most ``max_cloud`` percent cloud, oldest first, each once."""
    found = search_level(dag, start=start, end=end, aoi=aoi, provider=provider, level=level,
                         page_size=page_size, max_cloud=max_cloud)
    # Providers may ignore a query extension they do not know: check again here.
    return [c for c in found if c.cloudless_enough(max_cloud) and c.geometry.intersects(aoi)]


def search_level(dag: Any, *, start: dt.date, end: dt.date, aoi: BaseGeometry, provider: str,
                 level: str, page_size: int = DEFAULT_PAGE_SIZE,
                 max_cloud: float | None = None) -> list[Candidate]:
    """Every product the provider answers for ``level`` over ``aoi`` from ``start`` to ``end``,
    oldest first, each once, *not* filtered here (a daily run records why it drops each
    one); ``max_cloud`` None asks the provider for every product, cloudy ones included."""
    from eodag.utils.exceptions import EodagError

    collection = collection_for(provider, level)
    query = {} if max_cloud is None else {"eo:cloud_cover": max_cloud}
    try:
        first = dag.search(
            collection=collection, start=start.isoformat(),
            end=(end + dt.timedelta(days=1)).isoformat(), geom=aoi, limit=page_size,
            provider=provider, raise_errors=True, **query)
        products = [*first, *(p for page in first.next_page(update=False) for p in page)]
    except EodagError as exc:
        raise DiscoveryError(f"search on provider {provider!r} failed: {_message(exc)}") from exc
    except ValueError as exc:  # an answer that is not JSON, or not a STAC search
        raise DiscoveryError(f"provider {provider!r} answered garbage: {exc}") from exc
    found: dict[str, Candidate] = {}
    for product in products:
        candidate = _candidate(product, provider, level)
        found.setdefault(candidate.id, candidate)
    return sorted(found.values(), key=lambda c: (c.datetime, c.id))


def _candidate(product: Any, provider: str, level: str) -> Candidate:
    props = product.properties
    self_link = next((link["href"] for link in product.links if link.get("rel") == "self"),
                     None)
    streamable = self_link is not None and any(key in product.assets for key in COG_BANDS)
    location = product.remote_location
    cloud = props.get("eo:cloud_cover")
    return Candidate(
        id=str(props["id"]), datetime=str(props.get("datetime") or props.get(
            "start_datetime")), cloud_cover=None if cloud is None else float(cloud),
        provider=provider, geometry=shape(product.geometry),
        item_href=self_link if streamable else None,
        download_href=None if streamable or not location.startswith("http") else location,
        product=product, level=level, platform=str(props.get("platform") or ""),
        properties=dict(props))


def _message(exc: Exception) -> str:
    text = " ".join(str(a) for a in exc.args if a) or type(exc).__name__
    return text if len(text) < 500 else text[:500] + "..."
