"""`earthsig models`: the model repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from infra.commands.table import table

if TYPE_CHECKING:
    from inference.repository import ModelRepository, ResolvedModel


def _repo() -> ModelRepository:
    # Imports stay inside commands: `earthsig --help` loads no ONNX Runtime.
    from inference.repository import ModelRepository
    from inference.settings import InferenceSettings

    return ModelRepository.from_settings(InferenceSettings())


def _resolve(ref: str) -> ResolvedModel:
    """The model ``ref``; a model not in the repository is a message (how to build it)."""
    from inference.errors import ModelNotFoundError

    try:
        return _repo().resolve(ref)
    except ModelNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def models() -> None:
    """The model repository (Triton layout, an MLM document per version)."""


@models.command("build")
@click.argument("names", nargs=-1)
@click.option("--missing", is_flag=True,
              help="Only the versions the repository lacks (else each is written again).")
def models_build(names: tuple[str, ...], missing: bool) -> None:
    """Write the reference models NAMES (default: every one buildable here) into the
    repository. Looking a model up never builds it: this is the step that does (`make install`
    runs it)."""
    from inference.errors import ModelNotFoundError

    try:
        built = _repo().build_references(names or None, only_missing=missing)
    except ModelNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    for model in built:
        click.echo(f"{model.spec.ref}  {model.onnx_path}")


@models.command("list")
def models_list() -> None:
    """Models, their versions and the active one."""
    repo = _repo()
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


@models.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the whole MLM document.")
def models_show(ref: str, as_json: bool) -> None:
    """One model version (NAME or NAME:VERSION): bands, scaling, window, classes."""
    model = _resolve(ref)
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


@models.command("tune-atmosphere")
@click.argument("ref", default="clc-dynamicworld")
def models_tune_atmosphere(ref: str) -> None:
    """Choose the TOA emulation's path reflectance for REF on one BigEarthNet source.

    Scores a grid of blue/red path reflectances on configilm's BENv2 patches (the choice) and
    on every other source (reported only); ingest/clouds/toa_emulation.py holds the chosen pair.
    """
    from evaluation import bigearthnet as ben
    from inference.settings import InferenceSettings
    from samples.real_patches import RealPatchDataError

    try:
        rows, best = ben.tune_atmosphere(_resolve(ref), InferenceSettings())
    except (RealPatchDataError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("\n".join(ben.tuning_report(rows, best)))


@models.command("tune-forest")
def models_tune_forest() -> None:
    """Choose clc-dynamicworld's forest split (SWIR-1 threshold) on one BigEarthNet source.

    Scores each threshold on configilm's BENv2 patches (the choice) and every other source
    (reported only); inference/dynamicworld.py holds the chosen one (FOREST_SPLIT).
    """
    from evaluation import bigearthnet as ben
    from inference.settings import InferenceSettings
    from samples.real_patches import RealPatchDataError

    try:
        rows, best = ben.tune_forest(InferenceSettings())
    except (RealPatchDataError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("\n".join(ben.forest_report(rows, best)))


@models.command("import-dynamic-world")
@click.argument("saved_model", type=click.Path(exists=True, file_okay=False))
@click.option("--scene", type=click.Path(exists=True, dir_okay=False),
              default=".earthsig/testdata/s2cloudless/input_arrays.npz", show_default=True,
              help="s2cloudless's real L1C scene: the pixels TensorFlow and ONNX are compared on.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Where the network, licence and fixture go (default: inference/pretrained/"
                   "dynamicworld, the committed copy).")
def models_import_dynamic_world(saved_model: str, scene: str, out: str | None) -> None:
    """Convert Dynamic World's SAVED_MODEL (google/dynamicworld's model/forward) to ONNX.

    Needs the extra `pip install -e '.[dynamicworld-import]'` (TensorFlow, tf2onnx). Checks the
    ONNX network against TensorFlow on real L1C pixels and writes it with the source's LICENSE
    and NOTICE; `earthsig models build` then wraps it as clc-dynamicworld.
    """
    from inference import dynamicworld as dw
    from inference import dynamicworld_import as imp

    try:
        full, crops, digest = imp.import_dynamic_world(
            Path(saved_model), Path(scene), out=Path(out) if out else dw.PRETRAINED)
    except ModuleNotFoundError as exc:
        raise click.ClickException(
            f"{exc}: the import needs pip install -e '.[dynamicworld-import]'") from exc
    except imp.ImportError_ as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"ONNX vs TensorFlow on the real L1C scene: arg-max agreement "
               f"{100 * full.agreement:.2f} % of {full.pixels} px, largest probability "
               f"difference {full.max_prob_diff:.4f}")
    click.echo(f"fixture crops: agreement {100 * crops.agreement:.2f} % of {crops.pixels} px")
    click.echo(f"network sha256 {digest}" + (
        "" if digest == dw.NETWORK_SHA256 else
        f" (differs from the pinned {dw.NETWORK_SHA256}: update NETWORK_SHA256 after checking)"))


@models.command("eval")
@click.argument("ref")
@click.option("--scene", "scene", type=click.Path(exists=True, file_okay=False),
              help="A product folder with truth_landcover.tif (a generated sample).")
@click.option("--generate", "size", type=int,
              help="Generate a labelled sample of SIZE x SIZE pixels and use it.")
@click.option("--bigearthnet", is_flag=True,
              help="Score against every real labelled BigEarthNet patch (patch labels), "
                   "beside the constant baselines.")
@click.option("--compare", multiple=True,
              help="With --bigearthnet: also score this model (repeatable).")
@click.option("--path-blue", type=float, default=None,
              help="With --bigearthnet: blue path reflectance of the TOA emulation "
                   "(default: the pipeline's).")
@click.option("--path-red", type=float, default=None,
              help="With --bigearthnet: red path reflectance of the TOA emulation.")
@click.option("--by-source/--no-by-source", default=True, show_default=True,
              help="With --bigearthnet: also the tuning source and the held-out ones apart.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of --generate.")
@click.option("--cloud-cover", type=float, default=10.0, show_default=True,
              help="Cloud cover of --generate, percent.")
@click.option("--labels", "labels", type=click.Path(exists=True, file_okay=False),
              default=None, help="Held-out labelled patches (the trainer's folder format).")
@click.option("--baseline", default=None,
              help="With --labels: also score this model and print the gain of REF over it.")
def models_eval(ref: str, scene: str | None, size: int | None, bigearthnet: bool, seed: int,
                cloud_cover: float, labels: str | None = None,
                baseline: str | None = None, compare: tuple[str, ...] = (),
                path_blue: float | None = None, path_red: float | None = None,
                by_source: bool = True) -> None:
    """Per-class IoU, mean IoU and pixel accuracy of REF against a labelled scene.

    With --bigearthnet: patch-level figures on every real labelled BigEarthNet patch
    (example F1 and dominant-class hit at CLC levels 1 and 2, 95 % intervals, land/sea,
    summer/winter) beside the constant baselines.
    """
    import tempfile

    from evaluation.scenes import evaluate_scene, generate_labelled_product, report
    from inference.settings import InferenceSettings

    if sum((scene is not None, size is not None, bigearthnet, labels is not None)) != 1:
        raise click.UsageError("give exactly one of --scene DIR, --generate SIZE, --bigearthnet"
                               ", --labels DIR")
    if baseline and labels is None:
        raise click.UsageError("--baseline goes with --labels")
    model = _resolve(ref)
    if labels is not None:
        _eval_labels(model, Path(labels), baseline)
        return
    if bigearthnet:
        _eval_bigearthnet([model, *(_resolve(r) for r in compare)],
                          path_blue, path_red, by_source)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(scene) if scene else generate_labelled_product(
            size, Path(tmp), seed=seed, cloud_cover=cloud_cover)  # type: ignore[arg-type]
        result = evaluate_scene(folder, model, InferenceSettings())
    click.echo("\n".join(report(result)))


def _eval_bigearthnet(models: list, path_blue: float | None, path_red: float | None,
                      by_source: bool) -> None:
    from evaluation import bigearthnet as ben
    from inference.settings import InferenceSettings
    from samples.real_patches import RealPatchDataError

    defaults = ben.Atmosphere()
    atmosphere = ben.Atmosphere(defaults.blue if path_blue is None else path_blue,
                                defaults.red if path_red is None else path_red)
    try:
        patches, predictions = ben.evaluate_models(models, InferenceSettings(),
                                                   atmosphere=atmosphere)
    except (RealPatchDataError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if any(ben.takes_toa(m) for m in models):
        click.echo(f"TOA emulation of the L2A patches: path reflectance blue "
                   f"{atmosphere.blue}, red {atmosphere.red} (lambda^-n between them)")
    click.echo("\n".join(ben.report(patches, predictions, by_source=by_source)))


def _eval_labels(model: ResolvedModel, root: Path, baseline: str | None) -> None:
    from evaluation.labels import evaluate_patches
    from evaluation.scenes import SceneEvaluation, report
    from inference.settings import InferenceSettings

    settings = InferenceSettings()
    scores = {}
    for resolved in [model, *([_resolve(baseline)] if baseline else [])]:
        ev = evaluate_patches(root, resolved, settings)
        spec = resolved.spec
        click.echo("\n".join(report(SceneEvaluation(spec.ref, spec.output_kind, root, ev))))
        scores[spec.ref] = ev.mean_iou
    if baseline:
        new, old = scores[model.spec.ref], scores[_resolve(baseline).spec.ref]
        click.echo(f"gain on held-out labels: mean IoU {100 * old:.1f} % -> {100 * new:.1f} % "
                   f"({100 * (new - old):+.1f} points)")


@models.command("candidates")
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


@models.command("patches")
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


@models.command("train")
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


@models.command("finetune")
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


@models.command("reference-unet")
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
    ref = f"{name}:{_repo().versions(name)[-1]}"
    ctx.invoke(models_build, names=("clc-spectral",), missing=True)  # the baseline
    for model in (ref, "clc-spectral:1"):
        click.echo(f"\n$ earthsig models eval {model} --generate {eval_size} --seed {eval_seed}")
        ctx.invoke(models_eval, ref=model, scene=None, size=eval_size, bigearthnet=False,
                   seed=eval_seed, cloud_cover=10.0)
        if bigearthnet:
            click.echo(f"\n$ earthsig models eval {model} --bigearthnet")
            ctx.invoke(models_eval, ref=model, scene=None, size=None, bigearthnet=True,
                       seed=eval_seed, cloud_cover=10.0)
