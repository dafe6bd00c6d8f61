"""Sliding windows: every pixel covered once, edges padded, invalid pixels left at nodata."""

import numpy as np
from rasterio.windows import Window

from inference.windows import segment, windows


class CodeBackend:
    """Puts probability 1 on the channel given by the first input band (a known mapping)."""

    def __init__(self) -> None:
        self.batch_shapes: list[tuple[int, ...]] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batch_shapes.append(batch.shape)
        n, _, h, w = batch.shape
        out = np.zeros((n, 44, h, w), np.float32)
        idx = batch[:, 0].astype(int)
        np.put_along_axis(out, idx[:, None], 0.75, axis=1)
        return out


def test_windows_tile_the_raster_exactly() -> None:
    cover = np.zeros((1000, 700), int)
    for w in windows(1000, 700, 256):
        rows, cols = w.toslices()
        cover[rows, cols] += 1
    assert (cover == 1).all()


def test_segment_stitches_classes_and_confidence() -> None:
    height, width = 700, 530
    truth = (np.arange(height * width).reshape(height, width) // 97) % 44
    valid = np.ones_like(truth, bool)
    valid[:10, :10] = False

    def read(window: Window) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = window.toslices()
        return truth[rows, cols][None].astype(np.float32), valid[rows, cols]

    backend = CodeBackend()
    seg = segment(read, height, width, backend, window_size=256, batch_size=3)
    assert all(shape[1:] == (1, 256, 256) for shape in backend.batch_shapes)
    np.testing.assert_array_equal(seg.classes[valid], truth[valid] + 1)
    assert (seg.classes[:10, :10] == 0).all() and (seg.confidence[:10, :10] == 0).all()
    assert (seg.confidence[valid] == 75).all()
