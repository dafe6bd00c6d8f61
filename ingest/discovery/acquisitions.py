"""One product per acquisition: which of the products a provider lists for one pass of one
satellite over one MGRS tile is processed.

An acquisition is (platform, MGRS tile, sensing time). Providers list it several times: as L1C
and L2A, and again after each reprocessing campaign under a newer processing baseline, with
ids that differ in form from provider to provider (earth-search ``S2A_31TCJ_20240701_0_L2A``,
the SAFE name ``S2A_MSIL2A_20240701T105031_N0510_R051_T31TCJ_20240701T135516``). Sensing
times of one acquisition agree to the second within a provider, but the SAFE name carries the
datatake start while items carry the granule's time (minutes apart), so times are matched
within ``SAME_PASS``: one satellite passes over a tile at most once per orbit (~100 minutes).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SAME_PASS = dt.timedelta(minutes=30)
LEVEL_PREFERENCE = ("L2A", "L1C")  # surface reflectance is what the models were made for

_PLATFORM = re.compile(r"^S2([A-D])_")
_TILE = re.compile(r"_T?(\d{2}[C-HJ-NP-X][A-HJ-NP-Z]{2})_")
_BASELINE = re.compile(r"_N(\d{2})(\d{2})_")
_LEVEL = re.compile(r"(?:MSI|_)(L1C|L2A)(?:_|$)")


@dataclass(frozen=True)
class Acquisition:
    """Who a product is: the pass it was made from, and which making of it."""

    platform: str  # "sentinel-2a"
    tile: str  # "31TCJ"
    sensed: dt.datetime
    level: str  # "L2A", "L1C" or "" when unknown
    baseline: float | None  # 5.1 for "05.10"; None when unknown

    def same_pass(self, other: Acquisition) -> bool:
        return (self.platform, self.tile) == (other.platform, other.tile) \
            and abs(self.sensed - other.sensed) <= SAME_PASS

    def rank(self) -> tuple[int, float]:
        """Higher is better: L2A over L1C, then the newest processing baseline."""
        level = LEVEL_PREFERENCE.index(self.level) if self.level in LEVEL_PREFERENCE \
            else len(LEVEL_PREFERENCE)
        return (-level, self.baseline if self.baseline is not None else -1.0)


def acquisition_of(product_id: str, properties: Mapping[str, Any],
                   level: str = "") -> Acquisition | None:
    """The acquisition of a product from its id and STAC properties; None if it cannot be
    told (such a product is never merged with another: it is processed on its own)."""
    platform = _platform(product_id, properties)
    tile = _tile(product_id, properties)
    when = properties.get("datetime") or properties.get("start_datetime")
    if not (platform and tile and when):
        return None
    try:
        sensed = dt.datetime.fromisoformat(str(when).replace("Z", "+00:00"))
    except ValueError:
        return None
    if sensed.tzinfo is None:
        sensed = sensed.replace(tzinfo=dt.UTC)
    return Acquisition(platform=platform, tile=tile, sensed=sensed,
                       level=level or _level(product_id, properties),
                       baseline=_baseline(product_id, properties))


def _platform(product_id: str, properties: Mapping[str, Any]) -> str:
    value = str(properties.get("platform") or "").lower()
    if value.startswith("sentinel-2") and len(value) == len("sentinel-2a"):
        return value
    match = _PLATFORM.match(product_id)
    return f"sentinel-2{match.group(1).lower()}" if match else ""


def _tile(product_id: str, properties: Mapping[str, Any]) -> str:
    code = str(properties.get("grid:code") or "")
    if code.startswith("MGRS-"):
        return code.removeprefix("MGRS-")
    zone, band, square = (properties.get(k) for k in
                          ("mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square"))
    if zone and band and square:
        return f"{int(zone):02d}{band}{square}"
    match = _TILE.search(f"{product_id}_")
    return match.group(1) if match else ""


def _level(product_id: str, properties: Mapping[str, Any]) -> str:
    level = str(properties.get("processing:level") or "")
    if level in LEVEL_PREFERENCE:
        return level
    kind = str(properties.get("s2:product_type") or "")
    if kind in ("S2MSI2A", "S2MSI1C"):
        return "L2A" if kind == "S2MSI2A" else "L1C"
    match = _LEVEL.search(product_id)
    return match.group(1) if match else ""


def _baseline(product_id: str, properties: Mapping[str, Any]) -> float | None:
    value = properties.get("s2:processing_baseline") or properties.get("processing:version")
    if value is not None:
        try:
            return float(value)  # "05.10" and EODAG's 5.1 alike
        except (TypeError, ValueError):
            pass
    match = _BASELINE.search(str(properties.get("s2:product_uri") or product_id))
    return int(match.group(1)) + int(match.group(2)) / 100 if match else None


@dataclass(frozen=True)
class Choice:
    """Of the products of one acquisition, the one to process and those it supersedes."""

    chosen: str
    acquisition: Acquisition | None
    superseded: tuple[str, ...] = ()


def one_per_acquisition(products: Iterable[tuple[str, Acquisition | None]]) -> list[Choice]:
    """Group ``(product id, acquisition)`` pairs by pass and keep the best of each group:
    L2A over L1C, then the newest processing baseline, then the last id (a stable tie-break).
    Products whose acquisition is unknown are each a group of their own."""
    # Per (platform, tile), the groups found so far: a day over Europe is ~700 products.
    groups: dict[tuple[str, str], list[list[tuple[str, Acquisition]]]] = {}
    choices: list[Choice] = []
    for product_id, acquisition in sorted(
            products, key=lambda p: (p[1].sensed.isoformat() if p[1] else "", p[0])):
        if acquisition is None:
            choices.append(Choice(product_id, None))
            continue
        passes = groups.setdefault((acquisition.platform, acquisition.tile), [])
        group = next((g for g in passes if g[0][1].same_pass(acquisition)), None)
        if group is None:
            passes.append([(product_id, acquisition)])
        else:
            group.append((product_id, acquisition))
    for group in (g for passes in groups.values() for g in passes):
        best_id, best = max(group, key=lambda p: (p[1].rank(), p[0]))
        choices.append(Choice(best_id, best, tuple(i for i, _ in group if i != best_id)))
    return choices
