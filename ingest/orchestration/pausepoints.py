"""Pause points for fault-injection tests: hold a job still at a named point of a stage, so a
test can kill its worker exactly there instead of racing it.

Off unless ``EARTHSIG_PAUSE_AT`` is set (production pays one environment lookup per point).
The value is ``<point>:<marker file>``: the first job to reach the point creates the marker
(holding its process id) and sleeps; the marker makes every later pass - the retry after the
kill - run straight through.
"""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger(__name__)

ENV = "EARTHSIG_PAUSE_AT"
POINTS = ("fetch", "infer-staged", "infer-published", "publish-registered")
PAUSE_S = 120.0  # long enough to be killed in; never for ever, should the test be gone


def pause_point(name: str) -> None:
    """Sleep here once if ``EARTHSIG_PAUSE_AT`` names this point (tests only)."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    point, _, marker = spec.partition(":")
    if point != name or not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return  # paused once already: the retry goes on
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    log.warning("paused at %s (pid %d) for a fault-injection test", name, os.getpid())
    time.sleep(PAUSE_S)
