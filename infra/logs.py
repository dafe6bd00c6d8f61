"""Logging set-up for command-line entry points (never at import time)."""

from __future__ import annotations

import logging


def configure(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # GDAL says this whenever MODE overviews of a palette band are built in creation mode,
    # palette set or not; MODE never averages, so the "unexpected results" cannot happen.
    logging.getLogger("rasterio._env").addFilter(
        lambda record: "palette index raster bands without a palette" not in record.getMessage()
    )
    for noisy in ("rasterio", "pypgstac", "httpx", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
