"""`earthsig models`: the model repository (one module per group of subcommands)."""

from __future__ import annotations

import click

from infra.commands.models import dynamic_world, evaluation, repository, training


@click.group()
def models() -> None:
    """The model repository (Triton layout, an MLM document per version)."""


for command in (repository.models_build, repository.models_list, repository.models_show,
                dynamic_world.models_import_dynamic_world, evaluation.models_eval,
                evaluation.models_tune_atmosphere, evaluation.models_tune_forest,
                training.models_candidates, training.models_patches, training.models_train,
                training.models_finetune, training.models_export,
                training.models_reference_unet):
    models.add_command(command)
