"""`earthsig models import-dynamic-world`: Dynamic World's TensorFlow network brought in as
ONNX."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("import-dynamic-world")
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
