"""Dynamic World's network with int8 convolutions (ONNX Runtime static quantisation).

Only the 25 convolutions are quantised (weights int8 per output channel, activations uint8,
QDQ format): the normalisation, Mish, the resizes, the softmax and the CLC mapping stay float,
because on this network the element-wise ops, not the convolutions, take most of the time and
int8 would only add (de)quantisation passes there. The activations' ranges are calibrated
(MinMax) on the real BigEarthNet patches of one source, ``evaluation.bigearthnet.TUNING_SOURCE``
(configilm's BENv2 patches, with the path reflectance the pipeline adds to L2A), the same source
every other choice about this model is made on; the other sources are held out for the
agreement figures (tests/bench/dynamicworld.py, tests/inference/test_dynamicworld_int8.py).

Measured, not served: int8 convolutions agree with the float model on only ~86 % of the
held-out patches' pixels (each convolution alone costs ~0.5 %, the first 1x1 convolution
after the stem 12 %), far below the 99 % an optimisation must keep (docs/benchmarks.md). The
benchmark quantises in process; nothing int8 is committed. ``quantize`` is deterministic (the
same float network, calibration pixels and ONNX Runtime version give the same bytes).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx

from inference import dynamicworld as dw


def normalised_nhwc(toa: np.ndarray) -> np.ndarray:
    """[N, 9, H, W] top-of-atmosphere reflectance -> the network's input: the notebook's
    normalisation (the same formula ``dw.wrap`` puts in the graph), NHWC float32."""
    dn = np.maximum(toa.astype(np.float64), 0) * dw.DN_PER_REFLECTANCE
    p30 = dw.NORM_PERCENTILES[:, 0].reshape(1, -1, 1, 1)
    p70 = dw.NORM_PERCENTILES[:, 1].reshape(1, -1, 1, 1)
    x = np.exp(5 * (np.log(dn * 0.005 + 1) - p30) / p70 - 1)
    return (x / (x + 1)).transpose(0, 2, 3, 1).astype(np.float32)


def quantize(network: onnx.ModelProto, calibration_toa: np.ndarray, *,
             per_channel: bool = True, method: str = "MinMax",
             quant_format: str = "QDQ") -> bytes:
    """The network with int8 convolutions, calibrated on ``calibration_toa`` ([N, 9, H, W]
    top-of-atmosphere reflectance, one calibration step per image)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    input_name = network.graph.input[0].name
    images = normalised_nhwc(calibration_toa)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds: Iterator[dict[str, np.ndarray]] = iter(
                {input_name: image[None]} for image in images)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory(prefix="earthsig-dw-int8-") as tmp:
        source, target = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        source.write_bytes(network.SerializeToString())
        quantize_static(
            str(source), str(target), Reader(),
            quant_format=QuantFormat.QDQ if quant_format == "QDQ" else QuantFormat.QOperator,
            op_types_to_quantize=["Conv"], per_channel=per_channel,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod[method],
            # the calibration's scratch model goes to the temporary folder, not the cwd
            calibration_providers=["CPUExecutionProvider"],
            extra_options={"CalibTensorRangeSymmetric": False})
        model = onnx.load(str(target))
    model.producer_name = "earthsignature"
    model.producer_version = ""
    return model.SerializeToString()

