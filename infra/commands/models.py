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


@models.command("eval")
@click.argument("ref")
@click.option("--scene", "scene", type=click.Path(exists=True, file_okay=False),
              help="A product folder with truth_landcover.tif (a generated sample).")
@click.option("--generate", "size", type=int,
              help="Generate a labelled sample of SIZE x SIZE pixels and use it.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of --generate.")
@click.option("--cloud-cover", type=float, default=10.0, show_default=True,
              help="Cloud cover of --generate, percent.")
def models_eval(ref: str, scene: str | None, size: int | None, seed: int,
                cloud_cover: float) -> None:
    """Per-class IoU, mean IoU and pixel accuracy of REF against a labelled scene."""
    import tempfile
    from pathlib import Path

    from inference.settings import InferenceSettings
    from ingest.scene_eval import evaluate_scene, generate_labelled_product, report

    if (scene is None) == (size is None):
        raise click.UsageError("give exactly one of --scene DIR and --generate SIZE")
    model = _repo().resolve(ref)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(scene) if scene else generate_labelled_product(
            size, Path(tmp), seed=seed, cloud_cover=cloud_cover)
        result = evaluate_scene(folder, model, InferenceSettings())
    click.echo("\n".join(report(result)))


@models.command("train")
@click.argument("patches", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Checkpoint file.")
@click.option("--classes", default="", help="CLC codes of the head (default: all in the patches).")
@click.option("--steps", type=int, default=1000, show_default=True)
@click.option("--batch", type=int, default=128, show_default=True)
@click.option("--width", type=int, default=64, show_default=True)
@click.option("--depth", type=int, default=4, show_default=True)
def models_train(patches: str, out: str, classes: str, steps: int, batch: int, width: int,
                 depth: int) -> None:
    """Train clc-unet on BigEarthNet-style PATCHES (extra `torch`; see docs/models.md)."""
    from pathlib import Path

    import numpy as np

    from inference.patches import read_patches
    from inference.training import train

    data = read_patches(Path(patches))
    codes = _codes(classes) or sorted(int(c) for c in np.unique(data.y) if c)
    train(data, codes, steps=steps, width=width, depth=depth, batch=batch).save(Path(out))
    click.echo(f"{out}: {len(codes)} classes {codes}")


@models.command("finetune")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.argument("patches", type=click.Path(exists=True, file_okay=False))
@click.option("--classes", required=True, help="CLC codes of the new head, e.g. 334,311.")
@click.option("--out", type=click.Path(dir_okay=False), required=True)
@click.option("--steps", type=int, default=200, show_default=True)
@click.option("--batch", type=int, default=128, show_default=True)
def models_finetune(checkpoint: str, patches: str, classes: str, out: str, steps: int,
                    batch: int) -> None:
    """Freeze CHECKPOINT's network and train a new head for --classes."""
    from pathlib import Path

    from inference.patches import read_patches
    from inference.training import Checkpoint, finetune

    tuned = finetune(Checkpoint.load(Path(checkpoint)), read_patches(Path(patches)),
                     _codes(classes), steps=steps, batch=batch)
    tuned.save(Path(out))
    click.echo(f"{out}: head for {tuned.classes}")


@models.command("export")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", default="clc-unet", show_default=True)
@click.option("--version", default=None, help="Default: the next integer.")
def models_export(checkpoint: str, name: str, version: str | None) -> None:
    """Write CHECKPOINT into the repository as ONNX + config.pbtxt + MLM (a new version)."""
    from pathlib import Path

    from inference.training import Checkpoint, export

    model = export(Checkpoint.load(Path(checkpoint)), _repo(), name, version)
    click.echo(f"{model.spec.ref}  {model.onnx_path}")


def _codes(text: str) -> list[int]:
    return [int(c) for c in text.replace(" ", "").split(",") if c]
