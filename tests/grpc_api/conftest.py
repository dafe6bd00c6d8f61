"""A pgstac catalog of products the pipeline published, the gRPC service serving it on mutual
TLS from a child process (``earthsig serve grpc``), certificates made by ``earthsig grpc-certs``
and a pilot's client generated from the published protos."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import grpc
import httpx
import pytest

from inference.settings import InferenceSettings
from infra.postgres import libpq_env
from infra.stack import StackState
from ingest.pipeline import process_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.conftest import _cloned_database
from tests.grpc_api.pilot_client import Stubs, channel, generate
from tests.models import built
from tests.servers import free_port, stop_process

# Two products a few tens of km apart (UTM 31N), one cloudy; 384 px a side (147,456 px).
PRODUCTS = (("T31TCJ", date(2024, 7, 1), 1, 0.0), ("T31TDJ", date(2024, 7, 21), 3, 30.0))
MAX_PIXELS = 100_000  # under a whole sample product: a crop or a refusal
WRITER, READER = "producer", "pilot"


@dataclass(frozen=True)
class Service:
    address: str  # host:port of gRPC
    http: str  # https://host:port of the HTTP bindings
    certs: Path
    home: Path
    dsn: str
    items: list[dict]  # the published items, as registered
    log: Path


def _earthsig(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run([sys.executable, "-m", "infra.cli", *args], check=True,
                   env={**os.environ, **(env or {})}, capture_output=True)


@pytest.fixture(scope="session")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Stubs:
    return generate(tmp_path_factory.mktemp("pilot-stubs"))


@pytest.fixture(scope="package")
def grpc_pgstac_dsn(stack: StackState, pgstac_template: str) -> Iterator[str]:
    """One catalog for the package's modules: publishing its products is the slow part."""
    with _cloned_database(stack, pgstac_template) as dsn:
        yield dsn


@pytest.fixture(scope="package")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local CA, the server's certificate and two clients (``earthsig grpc-certs``); a
    stranger's CA and client elsewhere."""
    folder = tmp_path_factory.mktemp("certs")
    _earthsig("grpc-certs", "init", "--dir", str(folder))
    for name in (WRITER, READER):
        _earthsig("grpc-certs", "client", name, "--dir", str(folder))
    stranger = folder / "stranger"
    _earthsig("grpc-certs", "init", "--dir", str(stranger))
    _earthsig("grpc-certs", "client", "intruder", "--dir", str(stranger))
    return folder


@pytest.fixture(scope="package")
def published(tmp_path_factory: pytest.TempPathFactory, grpc_pgstac_dsn: str
              ) -> tuple[Path, list[dict]]:
    """Sample products processed and published by the pipeline into a fresh catalog."""
    home = tmp_path_factory.mktemp("home")
    ingest = IngestSettings(_env_file=None, home=home)
    inference = InferenceSettings(_env_file=None, model_repository=built(home / "models"))
    ids = []
    for tile, day, seed, cloud in PRODUCTS:
        product = make_sample_product(tile, day, 384, home / "samples", seed=seed,
                                      cloud_cover=cloud)
        ids.append(process_product(str(product), ingest=ingest, inference=inference,
                                   dsn=grpc_pgstac_dsn).item_id)
    return home, [_hydrated(grpc_pgstac_dsn, i) for i in ids]


def _hydrated(dsn: str, item_id: str) -> dict:
    from stac_api.text_search.route import pgstac_search

    return pgstac_search(dsn, {"ids": [item_id]})["features"][0]


@contextmanager
def _serving(home: Path, certs: Path, dsn: str, log_dir: Path, **settings: str
             ) -> Iterator[tuple[subprocess.Popen, int, int, Path]]:
    """``earthsig serve grpc`` in a child process; its process, ports and log."""
    port, http_port = free_port(), free_port()
    log = log_dir / "server.log"
    env = {**os.environ, **libpq_env(dsn), "EARTHSIG_HOME": str(home),
           "EARTHSIG_GRPC_CERTS_DIR": str(certs), "EARTHSIG_GRPC_WRITERS": WRITER,
           "EARTHSIG_GRPC_HTTP_PORT": str(http_port),
           "EARTHSIG_GRPC_MAX_RASTER_PIXELS": str(MAX_PIXELS),
           **{f"EARTHSIG_GRPC_{k.upper()}": v for k, v in settings.items()}}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "infra.cli", "serve", "grpc",
                                 "--port", str(port)], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        yield proc, port, http_port, log
    finally:
        stop_process(proc)


@pytest.fixture(scope="package")
def service(published: tuple[Path, list[dict]], certs: Path, grpc_pgstac_dsn: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home, items = published
    with _serving(home, certs, grpc_pgstac_dsn, tmp_path_factory.mktemp("grpc-log")) as (
            proc, port, http_port, log):
        address, http = f"127.0.0.1:{port}", f"https://127.0.0.1:{http_port}"
        _wait(proc, address, http, certs, log)
        yield Service(address, http, certs, home, grpc_pgstac_dsn, items, log)


@pytest.fixture(scope="package")
def plaintext_http(published: tuple[Path, list[dict]], certs: Path, grpc_pgstac_dsn: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The HTTP bindings without TLS (EARTHSIG_GRPC_PLAINTEXT on loopback), for fuzzing."""
    home, _ = published
    with _serving(home, certs, grpc_pgstac_dsn, tmp_path_factory.mktemp("plain-log"),
                  plaintext="true") as (proc, _, http_port, log):
        url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"earthsig serve grpc exited:\n{log.read_text()[-4000:]}")
            try:
                httpx.get(f"{url}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no HTTP answer in 60 s:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield url


def https_client(certs: Path, client: str | None = READER) -> httpx.Client:
    """An HTTPS client trusting the local CA, presenting ``client``'s certificate."""
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    if client:
        context.load_cert_chain(certs / f"{client}.crt", certs / f"{client}.key")
    return httpx.Client(verify=context, timeout=30)


def _wait(proc: subprocess.Popen, address: str, http: str, certs: Path, log: Path) -> None:
    deadline = time.monotonic() + 60
    with channel(address, certs, READER) as ch:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"earthsig serve grpc exited:\n{log.read_text()[-4000:]}")
            try:
                grpc.channel_ready_future(ch).result(timeout=1)
                break
            except grpc.FutureTimeoutError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no gRPC answer in 60 s:\n{log.read_text()}") from None
    with https_client(certs) as client:
        while True:  # the HTTP bindings start right after
            try:
                client.get(f"{http}/openapi.json")
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no HTTP answer in 60 s:\n{log.read_text()}") from None
                time.sleep(0.2)
