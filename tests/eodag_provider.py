"""EODAG configured for local STAC APIs (``tests.ingest.stac_fixture``, ``flaky_stac``).

Each server becomes an EODAG provider of the ``StacSearch`` kind with the L2A and L1C
collections, configured through EODAG's own files and variables, as an operator would.
"""

from __future__ import annotations

from pathlib import Path

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
        - '{{{{"not_a_filter":{{geometry#to_geojson}}}}}}'
        - '$.geometry'
  products:
    S2_MSI_L2A:
      _collection: sentinel-2-l2a
    S2_MSI_L1C:
      _collection: sentinel-2-l1c
      metadata_mapping:
        eodag:download_link: '$.assets.product.href'
  download:
    type: HTTPDownload
    products:
      S2_MSI_L1C:
        ignore_assets: true
"""


def eodag_environment(cfg: Path, providers: list[tuple[str, str, int]]) -> dict[str, str]:
    """Write one provider file per ``(name, base URL, priority)`` under ``cfg``; return the
    variables that make EODAG use them, and only them."""
    (cfg / "providers").mkdir(parents=True, exist_ok=True)
    for name, base, priority in providers:
        (cfg / "providers" / f"{name}.yml").write_text(
            PROVIDER.format(name=name, base=base, priority=priority))
    names = ", ".join(f'"{name}"' for name, _, _ in providers)
    return {"EODAG_CFG_DIR": str(cfg), "EODAG_PROVIDERS_CFG_DIR": str(cfg / "providers"),
            "EODAG_STRICT_COLLECTIONS": "true", "EODAG_PROVIDERS_WHITELIST": f"[{names}]"}
