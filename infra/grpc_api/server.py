"""``earthsig serve grpc``: the gRPC service (v1 and v2) on mutual TLS, and its HTTP bindings
beside it on the same certificates.

Mutual TLS: the server presents ``server.crt``; every client must present a certificate signed
by the client CA (``ca.crt``), or the handshake fails before any call. Every such client may
read; CreateProduct also needs the certificate's common name in ``EARTHSIG_GRPC_WRITERS``.
Plaintext only with ``EARTHSIG_GRPC_PLAINTEXT`` on a loopback host, and then nobody writes.
"""

from __future__ import annotations

import logging
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from infra.grpc_api.service import Segmentations
from infra.grpc_api.servicers import add_services
from infra.grpc_api.settings import GrpcSettings

log = logging.getLogger(__name__)


class MissingCertificate(FileNotFoundError):
    """A certificate or key the service needs is not there."""


def _read(path_text: str, what: str) -> bytes:
    path = Path(path_text)
    if not path.is_file():
        raise MissingCertificate(f"{what} {path} is missing: create it with `earthsig "
                                 "grpc-certs init` or set its EARTHSIG_GRPC_ variable")
    return path.read_bytes()


def server_credentials(settings: GrpcSettings) -> grpc.ServerCredentials:
    cert, key, ca = settings.cert_paths
    return grpc.ssl_server_credentials(
        [(_read(str(key), "server key"), _read(str(cert), "server certificate"))],
        root_certificates=_read(str(ca), "client CA certificate"), require_client_auth=True)


def grpc_server(settings: GrpcSettings, segmentations: Segmentations) -> tuple[grpc.Server, int]:
    """The started server and its port."""
    limit = settings.max_message_bytes
    server = grpc.server(ThreadPoolExecutor(settings.workers, thread_name_prefix="grpc"),
                         options=[("grpc.max_send_message_length", limit),
                                  ("grpc.max_receive_message_length", limit)])
    add_services(server, segmentations)
    address = f"{settings.host}:{settings.port}"
    if settings.plaintext:
        log.warning("grpc: PLAINTEXT on %s (no TLS, nobody may write)", address)
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, server_credentials(settings))
    server.start()
    log.info("grpc: snapearth.api.v1/v2 DatabaseProductService on %s:%d (%s)", settings.host,
             port, "plaintext" if settings.plaintext else "mutual TLS")
    return server, port


def serve(settings: GrpcSettings | None = None) -> None:
    """Serve until interrupted: gRPC, and the HTTP bindings when ``http_port`` is set."""
    settings = settings or GrpcSettings()
    segmentations = Segmentations.from_environment(settings)
    if settings.plaintext:
        segmentations.settings = settings.model_copy(update={"writers": ()})
    server, _ = grpc_server(settings, segmentations)
    try:
        if settings.http_port:
            serve_http(settings, segmentations)
        else:
            server.wait_for_termination()
    finally:
        server.stop(grace=5).wait()


def serve_http(settings: GrpcSettings, segmentations: Segmentations) -> None:
    import uvicorn

    from infra.grpc_api.http_bindings import create_app

    tls = {}
    if not settings.plaintext:
        cert, key, ca = settings.cert_paths
        for path, what in ((cert, "server certificate"), (key, "server key"),
                           (ca, "client CA certificate")):
            _read(str(path), what)
        tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key), "ssl_ca_certs": str(ca),
               "ssl_cert_reqs": ssl.CERT_REQUIRED}
    log.info("grpc: HTTP bindings on %s://%s:%d", "http" if settings.plaintext else "https",
             settings.host, settings.http_port)
    uvicorn.run(create_app(segmentations), host=settings.host, port=settings.http_port,
                log_level="info", **tls)  # type: ignore[arg-type]
