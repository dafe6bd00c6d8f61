"""PostgreSQL + PostGIS + pgstac for the local stack.

Either the server named by ``DATABASE_URL`` / libpq ``PG*`` variables (when reachable), or a
project-owned cluster under ``<home>/pg`` built with Debian's PostgreSQL 15 binaries, listening on
127.0.0.1 only, on a free port. PostgreSQL refuses to run as root, so when we are root the owned
cluster runs as the ``postgres`` system user.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from infra.apt import InstallError, apt_install
from infra.ports import free_port, port_is_free
from infra.settings import StackSettings

log = logging.getLogger(__name__)

POSTGIS_PACKAGE = "postgresql-15-postgis-3"
OWNED_DATABASE = "earthsignature"
OWNED_USER = "postgres"
LIBPQ_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE")


# The owned cluster's server settings beyond PostgreSQL's defaults, tuned for the catalog's
# searches (docs/benchmarks.md, "Catalog at scale"): the default 128 MB of shared buffers is
# small beside a catalog of ~6 GiB per million items; planner costs for an SSD, where a random
# read costs about a sequential one; JIT compiles in tens of ms what a paged search runs in a
# few; a parallel worker costs more to start than it saves on a 10-item page, and takes a core
# from the API on a small machine; larger sorts and bitmaps stay in memory.
SERVER_SETTINGS: dict[str, str] = {
    "shared_buffers": "1GB",
    "work_mem": "16MB",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "jit": "off",
    "max_parallel_workers_per_gather": "0",
}
# The ones a session or role may set too (the bench compares them on one database).
SESSION_SETTINGS = ("work_mem", "random_page_cost", "effective_io_concurrency", "jit",
                    "max_parallel_workers_per_gather")


class PostgresError(RuntimeError):
    """The database could not be reached, created or migrated."""


@dataclass(frozen=True)
class PostgresInfo:
    dsn: str
    owned: bool

    def libpq_env(self) -> dict[str, str]:
        """PG* variables naming this database, the convention all our services read."""
        return libpq_env(self.dsn)


def libpq_env(dsn: str) -> dict[str, str]:
    parts = conninfo_to_dict(dsn)
    return {
        "PGHOST": str(parts.get("host", "127.0.0.1")),
        "PGPORT": str(parts.get("port", "5432")),
        "PGUSER": str(parts.get("user", OWNED_USER)),
        # stac-fastapi-pgstac requires a password setting even under trust auth.
        "PGPASSWORD": str(parts.get("password", "postgres")),
        "PGDATABASE": str(parts.get("dbname", OWNED_DATABASE)),
    }


def dsn_for(host: str, port: int, dbname: str, user: str = OWNED_USER,
            password: str = "postgres") -> str:
    return f"postgresql://{quote(user)}:{quote(password)}@{host}:{port}/{quote(dbname)}"


def reachable(dsn: str, timeout: int = 3) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=timeout):
            return True
    except psycopg.Error:
        return False


def configured_dsn(settings: StackSettings) -> str | None:
    """The DSN of the external server the user named, made explicit; None when none named."""
    if settings.database_url:
        return settings.database_url
    if not any(os.environ.get(v) for v in LIBPQ_VARS):
        return None
    try:
        # An empty conninfo makes libpq read the PG* variables; read back what it resolved.
        with psycopg.connect("", connect_timeout=3) as conn:
            p = conn.info
            return dsn_for(p.host if not p.host.startswith("/") else "127.0.0.1", p.port,
                           p.dbname, p.user, os.environ.get("PGPASSWORD", "postgres"))
    except psycopg.Error as exc:
        log.warning("PG* variables are set but the server is not reachable: %s", exc)
        return None


def _postgres_can_enter(folder: Path) -> bool:
    done = subprocess.run(["runuser", "-u", OWNED_USER, "--", "test", "-x", str(folder)],
                          capture_output=True)
    return done.returncode == 0


def ensure_postgis(settings: StackSettings) -> None:
    control = Path("/usr/share/postgresql/15/extension/postgis.control")
    if not control.exists():
        apt_install(POSTGIS_PACKAGE, allowed=settings.apt_install)


def migrate_pgstac(dsn: str) -> str:
    """Bring the pgstac schema to the version pinned by pypgstac; return that version."""
    from pypgstac.migrate import Migrate

    from ingest.catalog.pgstac_db import pgstac_session

    with pgstac_session(dsn) as db:
        return Migrate(db).run_migration()


class OwnedCluster:
    """A PostgreSQL cluster the stack created itself under ``<home>/pg``."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.link = settings.home.resolve() / "pg"
        self.root = self.link.resolve()
        self.data = self.root / "data"
        self.port_file = self.root / "port"
        self.log_file = self.root / "postgres.log"

    def _make_root(self) -> None:
        """Create ``<home>/pg``; when the ``postgres`` user cannot reach it, a link elsewhere.

        As root the cluster runs as ``postgres``, which cannot enter a home under a private
        folder (a clone in /root, pytest's 0700 temporary folders): the data then lives in
        /var/tmp and ``<home>/pg`` links to it.
        """
        if self.link.exists():
            return
        self.link.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and not _postgres_can_enter(self.link.parent):
            digest = hashlib.sha1(str(self.link).encode()).hexdigest()[:12]
            target = Path("/var/tmp") / f"earthsig-pg-{digest}"
            target.mkdir(parents=True, exist_ok=True)
            self.link.symlink_to(target, target_is_directory=True)
        else:
            self.link.mkdir()
        self.root = self.link.resolve()
        self.data = self.root / "data"
        self.port_file = self.root / "port"
        self.log_file = self.root / "postgres.log"

    # -- running binaries as the right user ----------------------------------------------
    def _run(self, binary: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.settings.pg_bindir / binary), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", OWNED_USER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise PostgresError(f"{binary} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def _chown(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            pw = pwd.getpwnam(OWNED_USER)
        except KeyError:
            raise PostgresError(f"running as root needs the '{OWNED_USER}' system user") from None
        for path in [self.root, *self.root.rglob("*")]:
            os.chown(path, pw.pw_uid, pw.pw_gid)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def port(self) -> int | None:
        return int(self.port_file.read_text()) if self.port_file.exists() else None

    def running(self) -> bool:
        if not (self.data / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def dsn(self, dbname: str = OWNED_DATABASE) -> str:
        if self.port is None:
            raise PostgresError("the owned cluster has no port yet: run `earthsig stack up`")
        return dsn_for(self.settings.bind_host, self.port, dbname)

    def start(self) -> str:
        if not (self.settings.pg_bindir / "initdb").exists():
            apt_install("postgresql-15", allowed=self.settings.apt_install)
        ensure_postgis(self.settings)
        self._make_root()
        if not (self.data / "PG_VERSION").exists():
            self._chown()
            log.info("creating PostgreSQL cluster in %s", self.data)
            self._run("initdb", "-D", str(self.data), "-U", OWNED_USER, "--auth=trust",
                      "-E", "UTF8", "--locale=C.UTF-8")
        if not self.running():
            port = self.port
            if port is None or not port_is_free(port, self.settings.bind_host):
                port = free_port(self.settings.bind_host)
                self.port_file.write_text(str(port))
            self._chown()
            tuned = " ".join(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())
            opts = (f"-p {port} -c listen_addresses={self.settings.bind_host} "
                    f"-c unix_socket_directories='' -c fsync=off -c max_connections=200 {tuned}")
            log.info("starting PostgreSQL on %s:%s", self.settings.bind_host, port)
            self._run("pg_ctl", "start", "-D", str(self.data), "-w", "-t", "60",
                      "-l", str(self.log_file), "-o", opts)
        self._ensure_database()
        return self.dsn()

    def _ensure_database(self) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (OWNED_DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{OWNED_DATABASE}"')

    def stop(self) -> None:
        if self.running():
            log.info("stopping PostgreSQL in %s", self.data)
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")


def ensure_postgres(settings: StackSettings) -> PostgresInfo:
    """Use the configured server when reachable, else start the owned cluster; migrate pgstac."""
    external = configured_dsn(settings)
    cluster = OwnedCluster(settings)
    if external is not None and cluster.port is not None and _same_server(external, cluster):
        external = None  # the PG* variables name our own cluster (e.g. exported by the CLI)
    if external is not None:
        if not reachable(external):
            raise PostgresError(f"the configured database is not reachable: {redact(external)}")
        info = PostgresInfo(dsn=external, owned=False)
    else:
        try:
            info = PostgresInfo(dsn=cluster.start(), owned=True)
        except InstallError as exc:
            raise PostgresError(str(exc)) from exc
    version = migrate_pgstac(info.dsn)
    log.info("pgstac %s ready at %s", version, redact(info.dsn))
    return info


def _same_server(dsn: str, cluster: OwnedCluster) -> bool:
    parts = conninfo_to_dict(dsn)
    return str(parts.get("port")) == str(cluster.port) and parts.get("host") in (
        cluster.settings.bind_host, "localhost")


def redact(dsn: str) -> str:
    parts = conninfo_to_dict(dsn)
    return f"{parts.get('host')}:{parts.get('port', 5432)}/{parts.get('dbname')}"
