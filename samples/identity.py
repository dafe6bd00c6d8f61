"""Who a generated product is: its default seed, its platform and its earth-search item id."""

from __future__ import annotations

import datetime as dt
import hashlib

S2A_LAUNCH = dt.date(2015, 6, 23)
S2B_IN_SERVICE = dt.date(2017, 7, 6)
S2C_REPLACES_S2B = dt.date(2025, 1, 21)


def default_seed(tile_id: str, date: dt.date) -> int:
    """A seed that depends only on tile and date: re-running gives the same product.

    48 bits, so that the item's ``earthsignature:seed`` is exact in any JSON reader.
    """
    digest = hashlib.sha256(f"{tile_id}:{date.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def platform_of(tile_id: str, date: dt.date) -> str:
    """Which satellite a generated product is attributed to, deterministically.

    Each satellite passes over a tile every 10 days and the two in service fly half a cycle
    apart, so the platform alternates every 5 days; S2C took over from S2B in January 2025.
    """
    if date < S2B_IN_SERVICE:
        return "sentinel-2a"
    phase = int(hashlib.sha256(tile_id.encode()).hexdigest(), 16) % 10
    if (date.toordinal() + phase) // 5 % 2 == 0:
        return "sentinel-2a"
    return "sentinel-2c" if date >= S2C_REPLACES_S2B else "sentinel-2b"


def product_id_of(tile_id: str, date: dt.date) -> str:
    """The earth-search v1 item id, like ``S2A_31TCJ_20240701_0_L2A``."""
    unit = platform_of(tile_id, date)[-1].upper()
    return f"S2{unit}_{tile_id}_{date:%Y%m%d}_0_L2A"
