"""The demo's generated products: Toulouse on two dates and its neighbour tile to the east.

What a new user is told (README, docs/qgis.md) must be where the data is, so the crops are
placed, not left at the tiles' corners: the T31TCJ crop is centred on Toulouse (the Capitole),
the T31TDJ crop is that tile's one nearest Toulouse (on its western edge, at the city's
latitude, ~25 km east of it). Each place has one landscape (its own seed, lowland: no glacier
in July), drawn the same on every date; between 15 June and 1 July only deliberate things
change: a forest burns north-west of the city and a few clouds pass over. The ground truth
follows both (the truth is the ground under the clouds; the cloud-mask truth shows them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from samples.changes import Conversion
from samples.product import make_sample_product
from samples.s2grid import tile_grid
from samples.spectra import BASE_RESOLUTION

TOULOUSE = (1.4442, 43.6045)  # lon, lat of the Capitole
DEMO_SIZE = 2048  # 10 m pixels across each crop: 20.48 km
BURNT = 334
BURNABLE = (311, 312)  # broad-leaved and coniferous forest


@dataclass(frozen=True)
class DemoProduct:
    """One generated acquisition of the demo; ``burn`` plants the burn scar."""

    tile: str
    day: date
    cloud_cover: float = 0.0
    burn: bool = False


DEMO_PRODUCTS = (
    DemoProduct("T31TCJ", date(2024, 6, 15)),
    DemoProduct("T31TCJ", date(2024, 7, 1), cloud_cover=5.0, burn=True),
    DemoProduct("T31TDJ", date(2024, 7, 1)),
)


def landscape_seed(tile: str) -> int:
    """One seed per demo place (its tile: one crop per tile), the same on every date."""
    digest = hashlib.sha256(f"earthsignature demo landscape {tile}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def demo_origin(tile: str, size: int) -> tuple[float, float]:
    """The crop of ``tile`` centred on Toulouse, or the nearest one inside the tile."""
    return tile_grid(tile).origin_centred_on(*TOULOUSE, size * BASE_RESOLUTION)


def burn_scar(size: int) -> Conversion:
    """The forest burnt between the two dates: a rectangle north-west of the crop's centre
    (about 2.5 x 2 km at the demo's size), forest pixels only."""
    def even(fraction: float) -> int:
        return 2 * round(fraction * size / 2)

    return Conversion(rows=(even(0.18), even(0.30)), cols=(even(0.12), even(0.27)),
                      to_class=BURNT, from_classes=BURNABLE)


def make_demo_product(product: DemoProduct, size: int, out_dir: Path) -> Path:
    """Write one demo product (the item JSON's path)."""
    return make_sample_product(
        product.tile, product.day, size, out_dir, cloud_cover=product.cloud_cover,
        conversions=(burn_scar(size),) if product.burn else (),
        origin_m=demo_origin(product.tile, size), landscape_seed=landscape_seed(product.tile),
        lowland=True)
