"""The ``earthsig`` command: a thin adapter over the packages' plain functions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from infra import logs
from infra.settings import StackSettings
from infra.stack import COMPONENTS, Stack, export_stack_env


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """EarthSignature: Sentinel-2 land cover as COGs, STAC items and XYZ tiles."""
    logs.configure(verbose)


# -- stack ---------------------------------------------------------------------------------
@main.group()
def stack() -> None:
    """The local stack: PostgreSQL+pgstac, Redis, worker, STAC API, tiler."""


@stack.command("up")
@click.argument("components", nargs=-1, type=click.Choice(COMPONENTS))
def stack_up(components: tuple[str, ...]) -> None:
    """Start COMPONENTS (default: all); parts already running are reused."""
    state = Stack().up(components or COMPONENTS)
    for key, value in state.env().items():
        if key != "PGPASSWORD":
            click.echo(f"{key}={value}")
    for name, url in state.urls().items():
        click.echo(f"{name}: {url}")


@stack.command("down")
@click.argument("components", nargs=-1, type=click.Choice(COMPONENTS))
def stack_down(components: tuple[str, ...]) -> None:
    """Stop COMPONENTS (default: all) that the stack itself started."""
    Stack().down(components or COMPONENTS)


@stack.command("status")
def stack_status() -> None:
    """What runs where."""
    for name, state, where in Stack().status():
        click.echo(f"{name:<9} {state:<20} {where}")


@stack.command("env")
def stack_env() -> None:
    """Shell exports pointing at the stack: eval "$(earthsig stack env)"."""
    for key, value in Stack().load().env().items():
        click.echo(f"export {key}={value}")


# -- samples -------------------------------------------------------------------------------
@main.group()
def samples() -> None:
    """Generated sample products (realistic layout and grid, not real data)."""


@samples.command("make")
@click.option("--tile", default="T31TCJ", show_default=True, help="MGRS tile id.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default="2024-07-01",
              show_default=True)
@click.option("--size", type=int, default=2048, show_default=True, help="Pixels at 10 m.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("samples"),
              show_default=True)
@click.option("--seed", type=int, default=None)
@click.option("--cloud-cover", type=float, default=0.0, show_default=True)
def samples_make(tile: str, day: datetime, size: int, out: Path, seed: int | None,
                 cloud_cover: float) -> None:
    """Write one generated Sentinel-2 L2A product and its ground truth; print its item path."""
    from ingest.samples import make_sample_product

    try:
        path = make_sample_product(tile, day.date(), size, out, seed=seed,
                                   cloud_cover=cloud_cover)
    except (ValueError, KeyError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(path))


# -- processing ----------------------------------------------------------------------------
@main.command()
@click.argument("href")
@click.option("--model", "model_ref", default=None, help="NAME[:VERSION] (default: active).")
@click.option("--wait", is_flag=True, help="Return once the item is published; print its id.")
@click.option("--timeout", type=float, default=3600, show_default=True)
def process(href: str, model_ref: str | None, wait: bool, timeout: float) -> None:
    """Queue one product (STAC item path or URL) for processing."""
    from redis import Redis

    from inference.errors import InferenceError
    from ingest.errors import IngestError
    from ingest.queue import JobFailedError, enqueue_product, wait_for
    from ingest.settings import IngestSettings

    export_stack_env()
    settings = IngestSettings()
    connection = Redis.from_url(settings.redis_url)
    try:
        queued = enqueue_product(href, model_ref, connection=connection, ingest=settings)
        click.echo(f"{'already queued' if queued.already_in_flight else 'queued'}: "
                   f"{queued.job_id}", err=True)
        if wait:
            result = wait_for(queued.job_id, connection=connection, timeout_s=timeout)
            click.echo(result["item_id"])
    except (IngestError, InferenceError, JobFailedError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--queues", "-q", multiple=True, help="Queues to work (default: process).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--name", default=None, help="Worker name (default: RQ's unique name).")
def worker(queues: tuple[str, ...], burst: bool, name: str | None) -> None:
    """Run an RQ worker; any number may run on any number of hosts sharing one Redis."""
    from ingest.worker import run_worker

    export_stack_env()
    run_worker(list(queues) or None, burst=burst, name=name)


# -- models --------------------------------------------------------------------------------
@main.group()
def models() -> None:
    """The model repository (Triton layout)."""


@models.command("build")
def models_build() -> None:
    """Write the reference models into the repository."""
    from inference.repository import REFERENCE_MODELS, ModelRepository
    from inference.settings import InferenceSettings

    repo = ModelRepository(InferenceSettings().model_repository)
    for name in REFERENCE_MODELS:
        click.echo(str(repo.build_reference(name).onnx_path))


@models.command("list")
def models_list() -> None:
    """Models and versions in the repository."""
    from inference.repository import ModelRepository
    from inference.settings import InferenceSettings

    repo = ModelRepository(InferenceSettings().model_repository)
    folders = sorted(p for p in repo.root.glob("*") if p.is_dir()) if repo.root.exists() else []
    for folder in folders:
        click.echo(f"{folder.name}: {', '.join(repo.versions(folder.name)) or '-'}")


# -- serving -------------------------------------------------------------------------------
@main.command()
@click.argument("service", type=click.Choice(["api", "tiler"]))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: 8081 (api), 8082 (tiler).")
def serve(service: str, host: str, port: int | None) -> None:
    """Run the STAC API or the tiler in the foreground."""
    import uvicorn

    export_stack_env()
    factory = {"api": "stac_api.app:create_app", "tiler": "tiler.app:create_app"}[service]
    uvicorn.run(factory, factory=True, host=host, port=port or {"api": 8081, "tiler": 8082}[
        service])


@main.command()
@click.option("--detach", is_flag=True, help="Return once everything answers (make up).")
@click.option("--size", type=int, default=2048, show_default=True, help="Sample size, px.")
def demo(detach: bool, size: int) -> None:
    """Start everything, process sample products, serve them, print the URLs."""
    from infra.demo import run_demo

    run_demo(Stack(StackSettings()), size=size, foreground=not detach)


if __name__ == "__main__":
    main()
