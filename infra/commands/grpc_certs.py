"""`earthsig grpc-certs`: a local CA and the certificates of the gRPC service and its clients."""

from __future__ import annotations

from pathlib import Path

import click

DIR_HELP = "Folder of the CA and certificates (default: EARTHSIG_GRPC_CERTS_DIR, <home>/grpc)."


def _folder(folder: Path | None) -> Path:
    from infra.grpc_api.settings import GrpcSettings

    return folder or GrpcSettings().certificates


@click.group("grpc-certs")
def grpc_certs() -> None:
    """Certificates for the gRPC service's mutual TLS (tests and small deployments)."""


@grpc_certs.command("init")
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None, help=DIR_HELP)
@click.option("--host", "hosts", multiple=True,
              help="Another name or address clients reach the server by (repeatable); "
                   "localhost and 127.0.0.1 are always in.")
def init(folder: Path | None, hosts: tuple[str, ...]) -> None:
    """Create the CA (kept if it exists) and a server certificate."""
    from infra.grpc_api.certificates import init as make

    ca, server = make(_folder(folder), hosts)
    click.echo(f"CA      {ca.certificate}\nserver  {server.certificate} {server.key}")


@grpc_certs.command("client")
@click.argument("name")
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None, help=DIR_HELP)
def client(name: str, folder: Path | None) -> None:
    """Issue a client certificate named NAME (list NAME in EARTHSIG_GRPC_WRITERS to let it
    write)."""
    from infra.grpc_api.certificates import issue_client

    try:
        issued = issue_client(_folder(folder), name)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"client  {issued.certificate} {issued.key}")
