"""The local stack without Docker: PostgreSQL+PostGIS+pgstac, Redis, a worker, API, tiler and
the gRPC service.

State lives in ``<home>/stack.json``; ``down`` stops only what the stack itself started, and
``up`` twice is harmless (running parts are reused).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field

from catalog_schemas.header_deadline import HEADER_TIMEOUT_PROTOCOL
from infra import processes
from infra.ports import free_port
from infra.postgres import OwnedCluster, PostgresInfo, ensure_postgres
from infra.redis_server import OwnedRedis, RedisInfo, ensure_redis
from infra.redis_server import reachable as redis_reachable
from infra.settings import StackSettings

log = logging.getLogger(__name__)

CORE = ("postgres", "redis")
# The tiler before the worker: the worker draws published products' tiles ahead on it.
SERVICES = ("api", "tiler", "worker", "ops", "dashboard", "grpc")
# The tiler first: the API links to it and answers asset hrefs as its /assets/ URLs (and the
# gRPC service its quicklooks).
START_ORDER = ("tiler", "api", "grpc", "worker", "ops", "dashboard")
# The gRPC service's client that may write (CreateProduct), certificate <home>/grpc/demo.crt.
GRPC_CLIENT = "demo"
HEALTH_PATHS = {"api": "/", "tiler": "/healthz", "ops": "/healthz", "dashboard": "/"}
COMPONENTS = CORE + SERVICES


@dataclass
class StackState:
    postgres: PostgresInfo | None = None
    redis: RedisInfo | None = None
    services: dict[str, processes.ManagedProcess] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """Variables that point a child process (or this one) at the stack's services."""
        env: dict[str, str] = {}
        if self.postgres:
            env.update(self.postgres.libpq_env())
            env["DATABASE_URL"] = self.postgres.dsn
        if self.redis:
            env["EARTHSIG_REDIS_URL"] = self.redis.url
            # The tiler's shared tile store, which the worker and the API tell of their writes.
            env["EARTHSIG_TILE_STORE_URL"] = self.redis.url
            # The per-client request budgets every API and tiler process spends from.
            env["EARTHSIG_RATE_LIMIT_URL"] = self.redis.url
        return env

    def urls(self) -> dict[str, str]:
        return {name: p.url for name, p in self.services.items() if p.url}


class Stack:
    def __init__(self, settings: StackSettings | None = None) -> None:
        self.settings = settings or StackSettings()
        self.home = self.settings.home.resolve()
        self.state_file = self.home / "stack.json"

    # -- state -------------------------------------------------------------------------
    def load(self) -> StackState:
        if not self.state_file.exists():
            return StackState()
        raw = json.loads(self.state_file.read_text())
        return StackState(
            postgres=PostgresInfo(**raw["postgres"]) if raw.get("postgres") else None,
            redis=RedisInfo(**raw["redis"]) if raw.get("redis") else None,
            services={k: processes.ManagedProcess(**v) for k, v in raw.get("services", {}).items()},
        )

    def save(self, state: StackState) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        raw = {
            "postgres": asdict(state.postgres) if state.postgres else None,
            "redis": asdict(state.redis) if state.redis else None,
            "services": {k: asdict(v) for k, v in state.services.items()},
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(raw, indent=2))
        tmp.replace(self.state_file)

    # -- up ----------------------------------------------------------------------------
    def up(self, components: tuple[str, ...] | list[str] = COMPONENTS) -> StackState:
        unknown = set(components) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown stack component(s) {sorted(unknown)}; known: {COMPONENTS}")
        state = self.load()
        # Services need the core, whatever was asked.
        if "postgres" in components or set(components) & set(SERVICES):
            state.postgres = ensure_postgres(self.settings)
        if "redis" in components or {"worker", "ops", "dashboard", "grpc"} & set(components):
            state.redis = ensure_redis(self.settings)
        self.save(state)
        for name in START_ORDER:
            if name in components:
                self._ensure_service(state, name)
                self.save(state)
        return state

    def _service_argv(self, name: str, port: int, state: StackState) -> list[str]:
        py = sys.executable
        if name == "worker":
            return [py, "-m", "infra", "worker"]
        if name == "dashboard":  # rq-dashboard, the web view of the queues
            assert state.redis is not None
            return [py, "-m", "rq_dashboard", "--bind", self.settings.bind_host, "--port",
                    str(port), "--redis-url", state.redis.url]
        if name == "grpc":  # mutual TLS; its HTTP bindings are `earthsig serve grpc`'s
            return [py, "-m", "infra", "serve", "grpc", "--host", self.settings.bind_host,
                    "--port", str(port)]
        factory = {"api": "stac_api.app:create_app", "tiler": "tiler.app:create_app",
                   "ops": "infra.ops_app:create_app"}[name]
        return [py, "-m", "uvicorn", "--factory", factory, "--host", self.settings.bind_host,
                "--port", str(port), "--log-level", "info", "--http", HEADER_TIMEOUT_PROTOCOL]

    def _ensure_service(self, state: StackState, name: str) -> None:
        current = state.services.get(name)
        if current and processes.alive(current.pid):
            return
        port = free_port(self.settings.bind_host)
        env = {**os.environ, **state.env(), "EARTHSIG_HOME": str(self.home)}
        tiler = state.services.get("tiler")
        if tiler and tiler.url and processes.alive(tiler.pid):
            if name == "worker":
                env.setdefault("EARTHSIG_SEED_TILER_URL", tiler.url)
            elif name == "api":  # tiler links, and asset hrefs as <tiler>/assets/ URLs
                env.setdefault("EARTHSIG_API_TILER_URL", tiler.url)
            elif name == "grpc":  # quicklook URLs; the pyramid redrawn after CreateProduct
                env.setdefault("EARTHSIG_API_TILER_URL", tiler.url)
                env.setdefault("EARTHSIG_SEED_TILER_URL", tiler.url)
        if name == "grpc":
            self._grpc_certificates(env)
            env.setdefault("EARTHSIG_GRPC_WRITERS", GRPC_CLIENT)
            env.setdefault("EARTHSIG_GRPC_HTTP_PORT", "0")
        proc = processes.start(name, self._service_argv(name, port, state), env=env,
                               logs_dir=self.home / "logs")
        url = None
        if name == "grpc":
            state.services[name] = processes.ManagedProcess(
                name, proc.pid, proc.log_path, f"grpcs://{self.settings.bind_host}:{port}")
            self.save(state)
            processes.wait_listening(state.services[name], self.settings.bind_host, port)
        elif name != "worker":
            url = f"http://{self.settings.bind_host}:{port}"
            health = url + HEALTH_PATHS[name]
            state.services[name] = processes.ManagedProcess(name, proc.pid, proc.log_path, url)
            self.save(state)
            processes.wait_healthy(state.services[name], health)
        else:
            state.services[name] = proc

    def _grpc_certificates(self, env: dict[str, str]) -> None:
        """The local CA, the server's certificate and the demo client's, made once by
        ``earthsig grpc-certs`` (in a child: the stack itself needs no cryptography)."""
        folder = self.home / "grpc"
        for args, made in ((["init"], "server.crt"),
                           (["client", GRPC_CLIENT], f"{GRPC_CLIENT}.crt")):
            if not (folder / made).exists():
                subprocess.run([sys.executable, "-m", "infra", "grpc-certs", *args, "--dir",
                                str(folder)], env=env, check=True, capture_output=True)

    # -- down / status -------------------------------------------------------------------
    def down(self, components: tuple[str, ...] | list[str] = COMPONENTS) -> None:
        """Stop ``components`` where the stack started them; external services are left alone."""
        state = self.load()
        for name, proc in list(state.services.items()):
            if name in components:
                processes.stop(proc.pid, name)
                del state.services[name]
        self.save(state)
        if "redis" in components and state.redis and state.redis.owned:
            OwnedRedis(self.settings).stop()
            state.redis = None
        if "postgres" in components and state.postgres and state.postgres.owned:
            OwnedCluster(self.settings).stop()
            state.postgres = None
        self.save(state)

    def status(self) -> list[tuple[str, str, str]]:
        """(component, state, where) for every component."""
        state = self.load()
        rows = []
        pg = state.postgres
        if pg is None:
            rows.append(("postgres", "not configured", ""))
        else:
            from infra.postgres import reachable, redact
            up = reachable(pg.dsn, 2)
            rows.append(("postgres", _state(up, pg.owned), redact(pg.dsn)))
        rd = state.redis
        if rd is None:
            rows.append(("redis", "not configured", ""))
        else:
            rows.append(("redis", _state(redis_reachable(rd.url), rd.owned), rd.url))
        for name in SERVICES:
            proc = state.services.get(name)
            if proc is None:
                rows.append((name, "stopped", ""))
            else:
                where = proc.url or f"pid {proc.pid}"
                rows.append((name, "running" if processes.alive(proc.pid) else "dead", where))
        return rows


def _state(up: bool, owned: bool) -> str:
    return ("running" if up else "down") + (" (owned)" if owned else " (external)")


def export_stack_env(settings: StackSettings | None = None) -> None:
    """Point this process at the running stack unless the environment already names services."""
    state = Stack(settings).load()
    for key, value in state.env().items():
        os.environ.setdefault(key, value)

