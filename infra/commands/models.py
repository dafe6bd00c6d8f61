"""`earthsig models`: the model repository."""

from __future__ import annotations

import click


@click.group()
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
