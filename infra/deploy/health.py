"""Container health checks: ``python -m infra.deploy.health CHECK [ARGUMENTS]``, CHECK one of
http, loopback, redis, worker, scheduler, grpc.

Exit status 0 means healthy, 1 unhealthy, with one line on stderr saying why. The images carry
Python but neither curl nor wget, so every check is this module. A worker or the scheduler is
healthy when it has registered itself in Redis *from this host* (a container is its own host)
and its heartbeat is recent: a process that is alive but lost Redis is not healthy.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import time
import urllib.request
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

# RQ renews a worker's key every maintenance pass; ours run at most every worker_ttl (30 s).
STALE_AFTER_S = 120.0


class Unhealthy(Exception):
    """What is wrong, in one line."""


def check_http(url: str, timeout_s: float = 5.0) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return f"{url}: {response.status}"
    except OSError as exc:  # URLError, HTTPError (4xx/5xx), timeouts
        raise Unhealthy(f"{url}: {exc}") from exc


def check_loopback(port_variable: str, path: str) -> str:
    """``http`` on 127.0.0.1 at the port this container's own setting names: under host
    networking (compose.podman.yaml) the port is chosen at start, not fixed in the image."""
    port = os.environ.get(port_variable, "")
    if not port.isdigit():
        raise Unhealthy(f"{port_variable} is {port!r}, not a port")
    return check_http(f"http://127.0.0.1:{port}{path}")


def _redis(url: str | None) -> Redis:
    from ingest.settings import IngestSettings

    return Redis.from_url(url or IngestSettings().redis_url, socket_timeout=5)


def check_redis(url: str | None = None) -> str:
    try:
        _redis(url).ping()
    except RedisError as exc:
        raise Unhealthy(f"redis: {exc}") from exc
    return "redis: PONG"


def check_worker(url: str | None = None, host: str | None = None) -> str:
    from rq import Worker

    host = host or socket.gethostname()
    try:
        workers = [w for w in Worker.all(connection=_redis(url)) if w.hostname == host]
    except RedisError as exc:
        raise Unhealthy(f"redis: {exc}") from exc
    fresh = [w for w in workers if w.last_heartbeat
             and time.time() - w.last_heartbeat.timestamp() < STALE_AFTER_S]
    if not fresh:
        raise Unhealthy(f"no worker of host {host} with a recent heartbeat "
                        f"({len(workers)} registered)")
    return ", ".join(f"{w.name} {w.get_state()} on {','.join(w.queue_names())}" for w in fresh)


def check_scheduler(url: str | None = None, host: str | None = None) -> str:
    from rq.cron import CronScheduler

    host = host or socket.gethostname()
    try:
        mine = [s for s in CronScheduler.all(_redis(url)) if s.hostname == host]
        beats = [(s.name, s.last_heartbeat) for s in mine]
    except RedisError as exc:
        raise Unhealthy(f"redis: {exc}") from exc
    fresh = [name for name, beat in beats
             if beat and time.time() - beat.timestamp() < STALE_AFTER_S]
    if not fresh:
        raise Unhealthy(f"no cron scheduler of host {host} with a recent heartbeat")
    return ", ".join(fresh)


def check_grpc(timeout_s: float = 5.0) -> str:
    """The gRPC service's port (EARTHSIG_GRPC_PORT) on 127.0.0.1 completes a TLS handshake
    with a certificate its own CA signed for 127.0.0.1 (mutual TLS: no call can be made
    without a client certificate, which the container does not hold)."""
    from infra.grpc_api.settings import GrpcSettings

    settings = GrpcSettings()
    ca = settings.cert_paths[2]
    address = ("127.0.0.1", settings.port)
    try:
        context = ssl.create_default_context(cafile=str(ca))
        context.set_alpn_protocols(["h2"])  # what gRPC servers insist on
        with socket.create_connection(address, timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=address[0]) as tls:
            subject = _common_name(tls.getpeercert() or {})
    except (OSError, ssl.SSLError) as exc:
        raise Unhealthy(f"grpc 127.0.0.1:{settings.port} (CA {ca}): {exc}") from exc
    return f"grpc 127.0.0.1:{settings.port}: TLS, server certificate {subject}"


def _common_name(certificate: dict) -> str:
    for rdn in certificate.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return "?"


CHECKS: dict[str, Callable[..., str]] = {
    "http": check_http, "loopback": check_loopback, "redis": check_redis,
    "worker": check_worker, "scheduler": check_scheduler, "grpc": check_grpc,
}
ARGUMENTS = {"http": 1, "loopback": 2}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in CHECKS or len(argv) - 1 != ARGUMENTS.get(argv[0], 0):
        print("usage: python -m infra.deploy.health http URL | loopback PORT_VARIABLE PATH"
              " | redis | worker | scheduler | grpc", file=sys.stderr)
        return 2
    try:
        print(CHECKS[argv[0]](*argv[1:]))
    except Unhealthy as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
