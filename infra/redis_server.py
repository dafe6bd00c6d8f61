"""Redis for the local stack: the configured ``EARTHSIG_REDIS_URL`` or an owned redis-server."""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass

import redis

from infra.apt import apt_install
from infra.ports import free_port, port_is_free
from infra.settings import StackSettings

log = logging.getLogger(__name__)


class RedisError(RuntimeError):
    """Redis could not be reached or started."""


@dataclass(frozen=True)
class RedisInfo:
    url: str
    owned: bool


def reachable(url: str, timeout: float = 2.0) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


class OwnedRedis:
    """A redis-server the stack started itself, state under ``<home>/redis``."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.root = (settings.home / "redis").resolve()
        self.port_file = self.root / "port"
        self.pid_file = self.root / "redis.pid"

    @property
    def url(self) -> str:
        return f"redis://{self.settings.bind_host}:{self.port_file.read_text().strip()}/0"

    def running(self) -> bool:
        return self.port_file.exists() and reachable(self.url, 0.5)

    def start(self) -> str:
        if self.running():
            return self.url
        binary = shutil.which("redis-server")
        if binary is None:
            apt_install("redis-server", allowed=self.settings.apt_install)
            binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.root.mkdir(parents=True, exist_ok=True)
        port = int(self.port_file.read_text()) if self.port_file.exists() else 0
        if not port or not port_is_free(port, self.settings.bind_host):
            port = free_port(self.settings.bind_host)
            self.port_file.write_text(str(port))
        log.info("starting redis-server on %s:%s", self.settings.bind_host, port)
        # Append-only persistence: queued jobs survive a restart of the owned server.
        subprocess.run(
            [binary, "--port", str(port), "--bind", self.settings.bind_host,
             "--daemonize", "yes", "--pidfile", str(self.pid_file), "--dir", str(self.root),
             "--logfile", str(self.root / "redis.log"), "--save", "", "--appendonly", "yes"],
            check=True,
        )
        deadline = time.monotonic() + 20
        while not reachable(self.url, 0.5):
            if time.monotonic() > deadline:
                raise RedisError(f"redis-server did not answer: see {self.root / 'redis.log'}")
            time.sleep(0.1)
        return self.url

    def stop(self) -> None:
        if not self.running():
            return
        log.info("stopping redis-server at %s", self.url)
        client = redis.Redis.from_url(self.url)
        # Shutdown closes the connection it came on.
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(nosave=True)
        deadline = time.monotonic() + 10
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.1)


def ensure_redis(settings: StackSettings) -> RedisInfo:
    if settings.redis_url:
        if not reachable(settings.redis_url):
            raise RedisError(f"EARTHSIG_REDIS_URL is not reachable: {settings.redis_url}")
        return RedisInfo(url=settings.redis_url, owned=False)
    return RedisInfo(url=OwnedRedis(settings).start(), owned=True)
