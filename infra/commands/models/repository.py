"""`earthsig models build | list | show`: the repository's models, and the model lookup the
other `models` commands share."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from infra.commands.table import table

if TYPE_CHECKING:
    from inference.repository import ModelRepository, ResolvedModel


def model_repository() -> ModelRepository:
    # Imports stay inside commands: `earthsig --help` loads no ONNX Runtime.
    from inference.repository import ModelRepository
    from inference.settings import InferenceSettings

    return ModelRepository.from_settings(InferenceSettings())


def resolve_model(ref: str) -> ResolvedModel:
    """The model ``ref``; a model not in the repository is a message (how to build it)."""
    from inference.errors import ModelNotFoundError

    try:
        return model_repository().resolve(ref)
    except ModelNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("build")
@click.argument("names", nargs=-1)
@click.option("--missing", is_flag=True,
              help="Only the versions the repository lacks (else each is written again).")
def models_build(names: tuple[str, ...], missing: bool) -> None:
    """Write the reference models NAMES (default: every one buildable here) into the
    repository. Looking a model up never builds it: this is the step that does (`make install`
    runs it)."""
    from inference.errors import ModelNotFoundError

    try:
        built = model_repository().build_references(names or None, only_missing=missing)
    except ModelNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    for model in built:
        click.echo(f"{model.spec.ref}  {model.onnx_path}")


@click.command("list")
def models_list() -> None:
    """Models, their versions and the active one."""
    repo = model_repository()
    rows = []
    for name in repo.names():
        active = repo.active_version(name)
        versions = [f"{v}*" if v == active else v for v in repo.versions(name)]
        spec = repo.resolve(f"{name}:{active}").spec
        rows.append([name, ", ".join(versions), spec.output_kind, ",".join(spec.input_bands),
                     spec.description])
    if not rows:
        click.echo(f"(empty: {repo.root}; run `earthsig models build`)")
        return
    header = ["MODEL", "VERSIONS (* active)", "OUTPUT", "BANDS", "DESCRIPTION"]
    click.echo("\n".join(table(header, rows)))


@click.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the whole MLM document.")
def models_show(ref: str, as_json: bool) -> None:
    """One model version (NAME or NAME:VERSION): bands, scaling, window, classes."""
    model = resolve_model(ref)
    if as_json:
        click.echo(model.mlm_path.read_text())
        return
    spec = model.spec
    click.echo(f"{spec.ref}  ({spec.framework}, {spec.architecture})  {spec.description}")
    click.echo(f"  files     {model.onnx_path}  {model.mlm_path.name}")
    click.echo(f"  input     {spec.input_name}: {', '.join(spec.input_bands)} "
               f"({spec.input_units}), window {spec.window_size} px")
    click.echo(f"  scaling   {json.dumps(spec.value_scaling)}")
    doc = json.loads(model.mlm_path.read_text())
    for c in doc["properties"]["mlm:output"][0]["classification:classes"]:
        click.echo(f"  class     {c['value']:3}  {c['name']:14} {c['description']}")
