"""`earthsig models eval | tune-atmosphere | tune-forest`: a model's scores (on a labelled
scene, the real BigEarthNet patches or held-out labels), and the choices made by scores on
BigEarthNet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from infra.commands.models.repository import resolve_model

if TYPE_CHECKING:
    from inference.repository import ResolvedModel


@click.command("eval")
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
    model = resolve_model(ref)
    if labels is not None:
        _eval_labels(model, Path(labels), baseline)
        return
    if bigearthnet:
        _eval_bigearthnet([model, *(resolve_model(r) for r in compare)],
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
    for resolved in [model, *([resolve_model(baseline)] if baseline else [])]:
        ev = evaluate_patches(root, resolved, settings)
        spec = resolved.spec
        click.echo("\n".join(report(SceneEvaluation(spec.ref, spec.output_kind, root, ev))))
        scores[spec.ref] = ev.mean_iou
    if baseline:
        new, old = scores[model.spec.ref], scores[resolve_model(baseline).spec.ref]
        click.echo(f"gain on held-out labels: mean IoU {100 * old:.1f} % -> {100 * new:.1f} % "
                   f"({100 * (new - old):+.1f} points)")


@click.command("tune-atmosphere")
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
        rows, best = ben.tune_atmosphere(resolve_model(ref), InferenceSettings())
    except (RealPatchDataError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("\n".join(ben.tuning_report(rows, best)))


@click.command("tune-forest")
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
