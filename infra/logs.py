"""Logging set-up for command-line entry points (never at import time)."""

from __future__ import annotations

import logging
from collections.abc import Mapping


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
    # stac_fastapi.types.core builds upstream's bare ApiSettings() when imported, to read a
    # default landing page id, and that instance warns of its placeholder title; the API runs
    # on our Settings, which replace every placeholder (stac_api.settings.Settings).
    logging.getLogger("stac_fastapi.types.config").addFilter(
        lambda record: not record.getMessage().startswith("Using default values for")
    )
    # numexpr announces its thread count at INFO whenever pandas or numexpr is first imported.
    for noisy in ("rasterio", "pypgstac", "httpx", "botocore", "urllib3", "numexpr"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def durations(timings_s: Mapping[str, float]) -> str:
    """Step timings as a person reads them: ``fetch 1.2 s, infer 3.4 s`` (tenths of a second;
    the log line is for people, the exact figures stay in the job's result)."""
    return ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings_s.items())
