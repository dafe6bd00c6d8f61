"""`earthsig models candidates | patches | train | finetune | export | reference-unet`:
training clc-unet (extra `torch`; docs/models.md) and labelling its least confident windows."""

from __future__ import annotations

import click

from infra.commands.models.evaluation import models_eval
from infra.commands.models.repository import model_repository, models_build


@click.command("candidates")
@click.argument("item")
@click.option("--k", type=int, default=8, show_default=True, help="Windows to export.")
@click.option("--out", type=click.Path(file_okay=False), required=True)
@click.option("--size", type=int, default=64, show_default=True, help="Window side, pixels.")
@click.option("--min-valid", type=float, default=0.9, show_default=True,
              help="Least share of classified (clear) pixels in a window.")
@click.option("--publish", is_flag=True, help="Also publish them to the `labels` collection.")
def models_candidates(item: str, k: int, out: str, size: int, min_valid: float,
                      publish: bool) -> None:
    """Export ITEM's K least confident windows for labelling (ITEM: id or item JSON path).

    The folder is the trainer's patch format (docs/active_learning.md): correct each
    *_reference_map.tif, then `earthsig models finetune CKPT OUT --keep-head`.
    """
    from pathlib import Path

    from infra.stack import export_stack_env
    from ingest.derived.candidates import export_candidates, load_item
    from ingest.errors import InvalidProductError

    export_stack_env()
    try:
        found = export_candidates(load_item(item), k, Path(out), size=size,
                                  min_valid=min_valid, publish=publish)
    except (InvalidProductError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for c in found:
        click.echo(f"{c.pid}  mean confidence {c.window.mean_confidence:5.1f}  "
                   f"class {c.window.dominant}")
    click.echo(f"{len(found)} candidates in {out}" + (" (published)" if publish else ""))


@click.command("patches")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--seeds", default="1", show_default=True,
              help="Comma-separated seeds: one generated scene (tile 32TQM) per seed.")
@click.option("--count", type=int, default=64, show_default=True, help="Patches per scene.")
@click.option("--size", type=int, default=64, show_default=True, help="Patch side, pixels.")
def models_patches(out: str, seeds: str, count: int, size: int) -> None:
    """Write BigEarthNet-style training patches cut from generated scenes (not real data)."""
    from pathlib import Path

    from samples.patches import write_generated_patches

    for seed in _codes(seeds):
        write_generated_patches(Path(out), count, size=size, seed=seed)
    click.echo(f"{out}: {count} patches of {size} px from each of seeds {seeds}")


@click.command("train")
@click.argument("patches", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Checkpoint file.")
@click.option("--classes", default="", help="CLC codes of the head (default: all in the patches).")
@click.option("--steps", type=int, default=1000, show_default=True)
@click.option("--batch", type=int, default=128, show_default=True)
@click.option("--width", type=int, default=64, show_default=True)
@click.option("--depth", type=int, default=4, show_default=True)
@click.option("--minutes", type=float, default=None,
              help="Stop after this much training time even if --steps are not done.")
@click.option("--seed", type=int, default=0, show_default=True)
def models_train(patches: str, out: str, classes: str, steps: int, batch: int, width: int,
                 depth: int, minutes: float | None, seed: int) -> None:
    """Train clc-unet on BigEarthNet-style PATCHES (extra `torch`; see docs/models.md)."""
    from pathlib import Path

    import numpy as np

    from inference.patches import read_patches
    from inference.training import train

    data = read_patches(Path(patches))
    codes = _codes(classes) or sorted(int(c) for c in np.unique(data.y) if c)
    limit = minutes * 60 if minutes is not None else None
    ckpt = train(data, codes, steps=steps, width=width, depth=depth, batch=batch, seed=seed,
                 max_seconds=limit)
    ckpt.save(Path(out))
    click.echo(f"{out}: {len(codes)} classes {codes}, {ckpt.steps} steps of {batch} patches "
               f"({len(data.x)} patches)")


@click.command("finetune")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.argument("patches", type=click.Path(exists=True, file_okay=False))
@click.option("--classes", default="",
              help="CLC codes of the new head, e.g. 334,311 (required without --keep-head).")
@click.option("--out", type=click.Path(dir_okay=False), required=True)
@click.option("--steps", type=int, default=200, show_default=True)
@click.option("--batch", type=int, default=128, show_default=True)
@click.option("--keep-head", is_flag=True,
              help="Keep the classes and head; train the whole network further on PATCHES "
                   "(corrected labels from `earthsig models candidates`).")
@click.option("--seed", type=int, default=0, show_default=True)
def models_finetune(checkpoint: str, patches: str, classes: str, out: str, steps: int,
                    batch: int, keep_head: bool, seed: int) -> None:
    """Freeze CHECKPOINT's network and train a new head for --classes, or with --keep-head
    train the whole network further on corrected labels (active learning)."""
    from pathlib import Path

    from inference.patches import read_patches
    from inference.training import Checkpoint, finetune, fit

    base = Checkpoint.load(Path(checkpoint))
    if keep_head:
        if classes and _codes(classes) != base.classes:
            raise click.UsageError(f"--keep-head keeps the classes {base.classes}")
        tuned = fit(base, read_patches(Path(patches)), steps=steps, batch=batch, seed=seed)
    elif not classes:
        raise click.UsageError("give --classes for the new head, or --keep-head")
    else:
        tuned = finetune(base, read_patches(Path(patches)), _codes(classes), steps=steps,
                         batch=batch, seed=seed)
    tuned.save(Path(out))
    click.echo(f"{out}: head for {tuned.classes}, {tuned.steps} steps in all")


@click.command("export")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", default="clc-unet", show_default=True)
@click.option("--version", default=None, help="Default: the next integer.")
def models_export(checkpoint: str, name: str, version: str | None) -> None:
    """Write CHECKPOINT into the repository as ONNX + config.pbtxt + MLM (a new version)."""
    from pathlib import Path

    from inference.training import Checkpoint, export

    model = export(Checkpoint.load(Path(checkpoint)), model_repository(), name, version)
    click.echo(f"{model.spec.ref}  {model.onnx_path}")


def _codes(text: str) -> list[int]:
    return [int(c) for c in text.replace(" ", "").split(",") if c]


@click.command("reference-unet")
@click.option("--work", type=click.Path(file_okay=False), default=".earthsig/unet",
              show_default=True, help="Patches and checkpoint go here.")
@click.option("--name", default="clc-unet", show_default=True)
@click.option("--seeds", default="1,2,3,4", show_default=True,
              help="Seeds of the generated training scenes.")
@click.option("--count", type=int, default=64, show_default=True, help="Patches per scene.")
@click.option("--size", type=int, default=64, show_default=True, help="Patch side, pixels.")
@click.option("--width", type=int, default=16, show_default=True)
@click.option("--depth", type=int, default=4, show_default=True)
@click.option("--steps", type=int, default=1000, show_default=True)
@click.option("--batch", type=int, default=32, show_default=True)
@click.option("--minutes", type=float, default=10.0, show_default=True,
              help="Training time cap (the run stops early and says so).")
@click.option("--eval-seed", type=int, default=7, show_default=True,
              help="Held-out generated scene: must not be a training seed.")
@click.option("--eval-size", type=int, default=1024, show_default=True)
@click.option("--bigearthnet/--no-bigearthnet", default=True, show_default=True,
              help="Also score on the real BigEarthNet patches.")
@click.pass_context
def models_reference_unet(ctx: click.Context, work: str, name: str, seeds: str, count: int,
                          size: int, width: int, depth: int, steps: int, batch: int,
                          minutes: float, eval_seed: int, eval_size: int,
                          bigearthnet: bool) -> None:
    """Generate patches, train, export and evaluate the reference clc-unet (`make unet`).

    Each step is the `earthsig models` command of the same name; the evaluation runs the new
    version and clc-spectral:1 on the same held-out scene (and on BigEarthNet).
    """
    import shutil
    from pathlib import Path

    if eval_seed in _codes(seeds):
        raise click.UsageError(f"--eval-seed {eval_seed} is a training seed ({seeds})")
    root = Path(work)
    patches, checkpoint = root / "patches", root / f"{name}.pt"
    shutil.rmtree(patches, ignore_errors=True)  # a rerun trains on exactly these seeds
    root.mkdir(parents=True, exist_ok=True)
    ctx.invoke(models_patches, out=str(patches), seeds=seeds, count=count, size=size)
    ctx.invoke(models_train, patches=str(patches), out=str(checkpoint), classes="",
               steps=steps, batch=batch, width=width, depth=depth, minutes=minutes, seed=0)
    ctx.invoke(models_export, checkpoint=str(checkpoint), name=name, version=None)
    ref = f"{name}:{model_repository().versions(name)[-1]}"
    ctx.invoke(models_build, names=("clc-spectral",), missing=True)  # the baseline
    for model in (ref, "clc-spectral:1"):
        click.echo(f"\n$ earthsig models eval {model} --generate {eval_size} --seed {eval_seed}")
        ctx.invoke(models_eval, ref=model, scene=None, size=eval_size, bigearthnet=False,
                   seed=eval_seed, cloud_cover=10.0)
        if bigearthnet:
            click.echo(f"\n$ earthsig models eval {model} --bigearthnet")
            ctx.invoke(models_eval, ref=model, scene=None, size=None, bigearthnet=True,
                       seed=eval_seed, cloud_cover=10.0)
