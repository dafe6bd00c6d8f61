"""`earthsig models`: the model repository."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from inference.repository import ModelRepository


def _repo() -> ModelRepository:
    # Imports stay inside commands: `earthsig --help` loads no ONNX Runtime.
    from inference.repository import ModelRepository
    from inference.settings import InferenceSettings

    return ModelRepository.from_settings(InferenceSettings())


@click.group()
def models() -> None:
    """The model repository (Triton layout, an MLM document per version)."""


@models.command("build")
def models_build() -> None:
    """Write every reference model version into the repository."""
    for model in _repo().build_all_references():
        click.echo(f"{model.spec.ref}  {model.onnx_path}")


@models.command("list")
def models_list() -> None:
    """Models, their versions and the active one."""
    repo = _repo()
    for name in repo.names():
        active = repo.active_version(name)
        versions = [f"{v}*" if v == active else v for v in repo.versions(name)]
        spec = repo.resolve(f"{name}:{active}").spec
        click.echo(f"{name:16} {', '.join(versions):12} {spec.output_kind:10} "
                   f"bands {','.join(spec.input_bands):16} {spec.description}")
    if not repo.names():
        click.echo(f"(empty: {repo.root}; run `earthsig models build`)")


@models.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the whole MLM document.")
def models_show(ref: str, as_json: bool) -> None:
    """One model version (NAME or NAME:VERSION): bands, scaling, window, classes."""
    model = _repo().resolve(ref)
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
