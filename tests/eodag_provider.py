"""EODAG configured for local STAC APIs (``tests.ingest.stac_fixture``, ``flaky_stac``).

Each server becomes an EODAG provider of the ``StacSearch`` kind with the L2A and L1C
collections, configured through EODAG's own files and variables, as an operator would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROVIDER = """
{name}:
  priority: {priority}
  roles: [host]
  description: local STAC API for tests
  url: {base}
  search:
    type: StacSearch
    api_endpoint: {base}/search
    need_auth: false
    retry_total: 0  # EODAG's own per-request retries: off, the run's attempts are counted
    timeout: 20
    pagination:
      max_limit: 100
    metadata_mapping:
      geometry:
        - '{{{{"{geometry_key}":{{geometry#to_geojson}}}}}}'
        - '$.geometry'
  products:
    S2_MSI_L2A:
      _collection: {l2a_collection}
    S2_MSI_L1C:
      _collection: sentinel-2-l1c
      metadata_mapping:
        eodag:download_link: '$.assets.product.href'
  download:
    type: HTTPDownload
    products:
      S2_MSI_L1C:
        ignore_assets: true  # download the zip (the download link), not asset by asset
"""


@dataclass(frozen=True)
class LocalStac:
    """One local STAC API as an EODAG provider."""

    name: str
    base: str
    priority: int = 1
    # The collection EODAG's S2_MSI_L2A is searched in (``stac_fixture`` answers ``broken``
    # with a 502 and ``garbage`` with a body that is not JSON).
    l2a_collection: str = "sentinel-2-l2a"
    # The search body's name for the AOI: ``intersects`` filters on the server; a name the
    # server does not know makes it answer every product, as a careless provider would.
    geometry_key: str = "not_a_filter"


def eodag_environment(cfg: Path, providers: Sequence[LocalStac]) -> dict[str, str]:
    """Write one provider file per provider under ``cfg``; return the variables that make
    EODAG use them, and only them."""
    (cfg / "providers").mkdir(parents=True, exist_ok=True)
    for provider in providers:
        (cfg / "providers" / f"{provider.name}.yml").write_text(PROVIDER.format(
            name=provider.name, base=provider.base, priority=provider.priority,
            l2a_collection=provider.l2a_collection, geometry_key=provider.geometry_key))
    names = ", ".join(f'"{provider.name}"' for provider in providers)
    return {"EODAG_CFG_DIR": str(cfg), "EODAG_PROVIDERS_CFG_DIR": str(cfg / "providers"),
            "EODAG_STRICT_COLLECTIONS": "true", "EODAG_PROVIDERS_WHITELIST": f"[{names}]"}


@contextmanager
def eodag_gateway(environment: dict[str, str]) -> Iterator[Any]:
    """An ``EODataAccessGateway`` made, and used, with ``environment`` set."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in environment.items():
            mp.setenv(key, value)
        from eodag import EODataAccessGateway

        yield EODataAccessGateway()
