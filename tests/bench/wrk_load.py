"""A load round with ``wrk`` (Debian's package): C clients, so the load generator does not take
the CPU the servers are measured on (the bench's asyncio + httpx client costs milliseconds of
Python per request on the same cores).

wrk runs for a duration over ``connections`` keep-alive connections; a Lua script cycles each
thread through the URL list and prints the latency percentiles and counts at the end.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = """
local urls = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", urls[(n %% #urls) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d %%.1f %%.1f %%.1f\\n", summary.requests,
    summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class WrkRound:
    requests: int
    seconds: float
    errors: int  # socket errors and answers >= 400 (204 "no data" tiles are successes)
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk_round(base: str, urls: list[str], seconds: int, connections: int,
              threads: int = 2) -> WrkRound:
    """One wrk run of ``seconds`` against ``base`` cycling through ``urls`` (paths)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: `apt-get install wrk` (make bench does)")
    quoted = ",".join('"' + u.replace("\\", "\\\\").replace('"', '\\"') + '"' for u in urls)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(SCRIPT % quoted)
    try:
        out = subprocess.run(
            [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
             "--timeout", "60s", "-s", script.name, base],
            check=True, capture_output=True, text=True).stdout
    finally:
        Path(script.name).unlink()
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    requests, micros, errors, p50, p95, p99 = line.split()[1:]
    return WrkRound(int(requests), int(micros) / 1e6, int(errors),
                    float(p50) / 1000, float(p95) / 1000, float(p99) / 1000)
