"""`earthsig process` and `earthsig worker`."""

from __future__ import annotations

import click

from infra.stack import export_stack_env


@click.command()
@click.argument("href")
@click.option("--model", "model_ref", default=None, help="NAME[:VERSION] (default: active).")
@click.option("--wait", is_flag=True, help="Return once the item is published; print its id.")
@click.option("--force", is_flag=True, help="Process again even if already done.")
@click.option("--timeout", type=float, default=3600, show_default=True,
              help="With --wait: seconds to wait for the item.")
@click.option("--worker-grace", type=click.FloatRange(0), default=30, show_default=True,
              envvar="EARTHSIG_PROCESS_WORKER_GRACE_S",
              help="With --wait: seconds to wait for a worker on a queue nobody listens on "
                   "before giving up.")
def process(href: str, model_ref: str | None, wait: bool, force: bool, timeout: float,
            worker_grace: float) -> None:
    """Queue one product (STAC item path or URL) through fetch -> infer -> publish."""
    from redis import Redis

    from inference.errors import InferenceError
    from ingest.errors import IngestError
    from ingest.orchestration.listeners import NoWorkerError, wait_with_workers
    from ingest.orchestration.queue import JobFailedError, enqueue_product
    from ingest.settings import IngestSettings

    export_stack_env()
    settings = IngestSettings()
    connection = Redis.from_url(settings.redis_url)
    try:
        queued = enqueue_product(href, model_ref, connection=connection, ingest=settings,
                                 force=force)
        click.echo(f"{queued.state}: {queued.product_id} with {queued.model}", err=True)
        if wait:
            result = wait_with_workers(
                queued.job_id, connection=connection, settings=settings, timeout_s=timeout,
                worker_grace_s=worker_grace, say=lambda line: click.echo(line, err=True))
            click.echo(result["item_id"])
    except (IngestError, InferenceError, JobFailedError, TimeoutError, NoWorkerError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--queues", "-q", multiple=True,
              help="Stage queues to work (fetch, infer, publish, discover; the queue prefix "
                   "is added), repeatable or comma-separated (default: all, later stages "
                   "first).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--name", default=None, help="Worker name (default: RQ's unique name).")
def worker(queues: tuple[str, ...], burst: bool, name: str | None) -> None:
    """Run an RQ worker; any number may run on any number of hosts sharing one Redis."""
    from ingest.orchestration.worker import run_worker

    export_stack_env()
    names = [q.strip() for spec in queues for q in spec.split(",") if q.strip()]
    try:
        run_worker(names or None, burst=burst, name=name)
    except ValueError as exc:  # an unknown queue name
        raise click.UsageError(str(exc)) from exc
