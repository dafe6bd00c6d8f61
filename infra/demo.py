"""``make demo`` / ``make up``: the whole stack with sample products processed and served."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from redis import Redis

from infra.endpoints import endpoints, write_endpoints
from infra.logs import durations
from infra.stack import COMPONENTS, Stack
from ingest.orchestration.queue import enqueue_product, wait_for
from ingest.orchestration.worker import build_served_references
from samples.demo import DEMO_PRODUCTS, make_demo_product

log = logging.getLogger(__name__)


def run_demo(stack: Stack, *, size: int = 2048, foreground: bool = True) -> dict[str, str]:
    before = {name for name, state, _ in stack.status() if state.startswith("running")}
    state = stack.up(COMPONENTS)
    started = [c for c in COMPONENTS if c not in before]
    try:
        samples = stack.home / "samples"
        # Toulouse on two dates (the newer on top in mosaics) and its neighbour tile's crop.
        hrefs = [str(make_demo_product(p, size, samples)) for p in DEMO_PRODUCTS]
        real = _real_product(samples)
        hrefs += [real] if real else []
        assert state.redis is not None
        connection = Redis.from_url(state.redis.url)
        # Before the first lookup, whether or not the stack's worker has built them yet.
        build_served_references()
        jobs = [enqueue_product(href, None, connection=connection) for href in hrefs]
        for job in jobs:
            result = wait_for(job.job_id, connection=connection)
            log.info("published %s (%s)", result["item_id"], durations(result["timings_s"]))
        urls = endpoints(*(state.services[name].url or "" for name in
                           ("api", "tiler", "ops", "dashboard", "grpc")))
        path = write_endpoints(stack.home, urls)
    except BaseException:
        if foreground:
            stack.down(started)
        raise
    _print_urls(urls, path)
    if foreground:
        _wait_for_interrupt()
        log.info("stopping what the demo started: %s", ", ".join(started) or "nothing")
        stack.down(started)
    return urls


def _real_product(out: Path) -> str | None:
    """Real Sentinel-2 pixels: BigEarthNet's T33UUP patches (2017-06-13, Bavaria and Austria)
    stitched on the tile grid, from the fixture `make install` unpacks; None without it."""
    from samples.bigearthnet import DEFAULT_ROOT, BigEarthNetDataError
    from samples.bigearthnet_product import build_product

    try:
        return str(build_product(out / "bigearthnet", root=DEFAULT_ROOT))
    except BigEarthNetDataError as exc:
        log.warning("no real product in the demo: %s", exc)
        return None


def _print_urls(urls: dict[str, str], path: Path) -> None:
    from inference.settings import InferenceSettings

    print(f"\nEarthSignature is up: land cover by {InferenceSettings().default_model} of three "
          "generated sample products (made-up spectra, not real data: Toulouse on 2024-06-15 "
          "and 2024-07-01, tile T31TCJ, and 25 km east of it, T31TDJ: zoom to 1.44 E, "
          "43.60 N) and of real Sentinel-2 pixels (BigEarthNet patches of T33UUP, 2017-06-13, "
          "near Salzburg: zoom to 12.84 E, 47.96 N):")
    print(f"  STAC API      {urls['stac_api']}")
    print(f"  tiler         {urls['tiler']}")
    print(f"  XYZ (QGIS)    {urls['xyz']}")
    print(f"  TileJSON      {urls['tilejson']}")
    print(f"  web map       {urls['map']}")
    print(f"  status        {urls['status']}")
    print(f"  dashboard     {urls['dashboard']}")
    print(f"  gRPC (mTLS)   {urls['grpc']}  (SnapEarth's DatabaseProductService, docs/grpc.md; "
          f"client certificate {Path(path).parent / 'grpc' / 'demo.crt'}, may write)")
    print(f"  written to    {path}\n", flush=True)


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("Press Ctrl-C to stop.", flush=True)
    stop.wait()
