"""The ``earthsig`` command: a thin adapter over the packages' plain functions.

Each domain's commands live in their own module under ``infra/commands/``.
"""

from __future__ import annotations

import click

from infra import logs
from infra.commands import (
    changes,
    discover,
    grpc_certs,
    models,
    operations,
    pipeline,
    processing,
    samples,
    search,
    serving,
    stack,
    tiles,
    timeseries,
    triton,
)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """EarthSignature: Sentinel-2 land cover as COGs, STAC items and XYZ tiles."""
    logs.configure(verbose)


main.add_command(stack.stack)
main.add_command(samples.samples)
main.add_command(processing.process)
main.add_command(processing.worker)
main.add_command(models.models)
main.add_command(serving.serve)
main.add_command(serving.demo)
main.add_command(triton.triton)
main.add_command(pipeline.status)
main.add_command(discover.discover)
for command in (operations.backfill, operations.reprocess, operations.retire,
                operations.scheduler):
    main.add_command(command)
main.add_command(pipeline.retry_failed)
main.add_command(changes.changes)
main.add_command(search.search)  # text search (docs/search.md)
main.add_command(timeseries.timeseries)  # docs/timeseries.md
main.add_command(tiles.tiles)  # the tile store (docs/architecture.md)
main.add_command(grpc_certs.grpc_certs)  # the gRPC service's mutual TLS (docs/grpc.md)


if __name__ == "__main__":
    main()
