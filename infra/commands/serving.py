"""`earthsig serve` and `earthsig demo`."""

from __future__ import annotations

import click

from infra.settings import StackSettings
from infra.stack import Stack, export_stack_env


@click.command()
@click.argument("service", type=click.Choice(["api", "tiler", "triton", "grpc"]))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None,
              help="Default: 8081 (api), 8082 (tiler), 8001 (triton gRPC; HTTP on 8000), "
                   "EARTHSIG_GRPC_PORT 50051 (grpc; HTTP bindings on EARTHSIG_GRPC_HTTP_PORT).")
def serve(service: str, host: str, port: int | None) -> None:
    """Run the STAC API, the tiler, a Triton server on the model repository, or the gRPC
    service of the original API (docs/grpc.md)."""
    import uvicorn

    if service == "triton":
        from infra.commands.triton import serve_triton

        serve_triton(port or 8001, 8000)
        return
    if service == "grpc":
        serve_grpc(host, port)
        return
    export_stack_env()
    factory = {"api": "stac_api.app:create_app", "tiler": "tiler.app:create_app"}[service]
    uvicorn.run(factory, factory=True, host=host, port=port or {"api": 8081, "tiler": 8082}[
        service])


def serve_grpc(host: str, port: int | None) -> None:
    from pydantic import ValidationError

    from infra.grpc_api.server import MissingCertificate, serve
    from infra.grpc_api.settings import GrpcSettings

    export_stack_env()
    try:
        settings = GrpcSettings(host=host)
    except ValidationError as exc:
        raise click.ClickException(f"invalid gRPC settings: {exc}") from exc
    if port is not None:
        settings = settings.model_copy(update={"port": port})
    try:
        serve(settings)
    except MissingCertificate as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--detach", is_flag=True, help="Return once everything answers (make up).")
@click.option("--size", type=int, default=2048, show_default=True, help="Sample size, px.")
def demo(detach: bool, size: int) -> None:
    """Start everything, process sample products, serve them, print the URLs."""
    from infra.demo import run_demo

    run_demo(Stack(StackSettings()), size=size, foreground=not detach)
