"""`earthsig stack`: the local stack."""

from __future__ import annotations

import click

from infra.stack import COMPONENTS, Stack


@click.group()
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
