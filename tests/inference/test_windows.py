"""Sliding windows: seamless stitching for any window size and overlap, nodata skipped."""

import numpy as np
import pytest
from rasterio.windows import Window

from inference.stitch import axis_layout
from inference.windows import BLENDS, inference_windows, segment, windows


class PixelBackend:
    """A per-pixel model: softmax of fixed linear scores of the bands (44 classes)."""

    def __init__(self) -> None:
        self.weights = np.random.default_rng(7).normal(size=(44, 3)).astype(np.float32)
        self.calls: list[tuple[int, ...]] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(batch.shape)
        scores = np.einsum("cb,nbhw->nchw", self.weights, batch)
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


HEIGHT, WIDTH = 230, 181
SCENE = np.random.default_rng(1).normal(size=(3, HEIGHT, WIDTH)).astype(np.float32)
VALID = np.ones((HEIGHT, WIDTH), bool)
VALID[:5, :9] = False


def read(window: Window) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = window.toslices()
    return SCENE[:, rows, cols], VALID[rows, cols]


def test_non_overlapping_tiles_cover_the_raster_exactly() -> None:
    cover = np.zeros((1000, 700), int)
    for w in windows(1000, 700, 256):
        rows, cols = w.toslices()
        cover[rows, cols] += 1
    assert (cover == 1).all()


@pytest.mark.parametrize("size,overlap", [(64, 0), (64, 16), (100, 37), (256, 0)])
def test_inference_windows_are_full_size_and_cover_everything(size: int, overlap: int) -> None:
    cover = np.zeros((HEIGHT, WIDTH), int)
    for w in inference_windows(HEIGHT, WIDTH, size, overlap):
        assert (w.height, w.width) == (min(size, HEIGHT), min(size, WIDTH))
        rows, cols = w.toslices()
        cover[rows, cols] += 1
    assert (cover >= 1).all()


def test_centre_ownership_is_a_partition() -> None:
    for size, overlap in [(64, 16), (50, 49), (100, 0)]:
        axes = axis_layout(230, size, overlap)
        owned = np.concatenate([np.arange(a.own_start, a.own_end) for a in axes])
        np.testing.assert_array_equal(owned, np.arange(230))
        assert all(a.pos <= a.own_start < a.own_end <= a.pos + a.length for a in axes)


def _reference() -> tuple[np.ndarray, np.ndarray]:
    """The per-pixel model on the whole raster at once: what any stitching must give."""
    probs = PixelBackend().predict(SCENE[None])[0]
    classes = np.where(VALID, probs.argmax(axis=0) + 1, 0).astype(np.uint8)
    confidence = np.where(VALID, np.rint(probs.max(axis=0) * 100), 0).astype(np.uint8)
    return classes, confidence


@pytest.mark.parametrize("size,overlap", [(64, 0), (64, 16), (48, 20), (100, 37), (512, 0)])
def test_centre_blend_is_identical_for_any_window_and_overlap(size: int, overlap: int) -> None:
    classes, confidence = _reference()
    seg = segment(read, HEIGHT, WIDTH, PixelBackend(), window_size=size, batch_size=3,
                  overlap=overlap, blend="centre")
    np.testing.assert_array_equal(seg.classes, classes)
    np.testing.assert_array_equal(seg.confidence, confidence)


@pytest.mark.parametrize("size,overlap", [(64, 16), (48, 20), (100, 37)])
def test_weighted_blend_has_no_seams(size: int, overlap: int) -> None:
    classes, confidence = _reference()
    seg = segment(read, HEIGHT, WIDTH, PixelBackend(), window_size=size, batch_size=2,
                  overlap=overlap, blend="weighted")
    # Averaging identical probabilities only rounds in the last float bit: a class may flip
    # only on an exact tie, and the confidence by one point at most.
    assert (seg.classes != classes).mean() < 1e-4
    assert np.abs(seg.confidence.astype(int) - confidence).max() <= 1


def test_weighted_blend_averages_disagreeing_windows() -> None:
    """Where windows disagree, the blend is a weighted mean that fades across the overlap."""

    class PositionBackend:  # probability of class 1 = 1 in odd calls, 0.2 in even ones
        n = 0

        def predict(self, batch: np.ndarray) -> np.ndarray:
            out = np.zeros((batch.shape[0], 2, *batch.shape[2:]), np.float32)
            for i in range(batch.shape[0]):
                p = 1.0 if self.n % 2 == 0 else 0.2
                out[i, 0], out[i, 1] = p, 1 - p
                self.n += 1
            return out

    ones = (np.zeros((1, 1, 112), np.float32), np.ones((1, 112), bool))
    seg = segment(lambda w: (ones[0][:, :, w.col_off:w.col_off + w.width],
                             ones[1][:, w.col_off:w.col_off + w.width]),
                  1, 112, PositionBackend(), window_size=64, batch_size=1, overlap=16,
                  blend="weighted", values=np.array([1, 2]))
    conf = seg.confidence[0].astype(int)
    assert (conf[:48] == 100).all() and (conf[64:] == 80).all()
    # Across the overlap the mean moves from (1, 0) to (0.2, 0.8): the class switches once,
    # in the middle, and the confidence dips towards 50 % there: a ramp, not a step.
    classes = seg.classes[0]
    assert (classes[:56] == 1).all() and (classes[58:] == 2).all()
    assert conf[48] > 95 and 50 <= conf[48:64].min() < 55 and conf[63] < 80


def test_nodata_windows_are_not_predicted() -> None:
    valid = np.zeros((128, 128), bool)
    valid[70:, 70:] = True  # only the bottom-right window has data

    def read_sparse(window: Window) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = window.toslices()
        return np.ones((3, window.height, window.width), np.float32), valid[rows, cols]

    backend = PixelBackend()
    seg = segment(read_sparse, 128, 128, backend, window_size=64, batch_size=1)
    assert len(backend.calls) == 1
    assert (seg.classes[~valid] == 0).all() and (seg.classes[valid] > 0).all()


def test_raster_smaller_than_a_window_is_padded() -> None:
    backend = PixelBackend()
    small = SCENE[:, :30, :20]
    seg = segment(lambda w: (small, np.ones((30, 20), bool)), 30, 20, backend,
                  window_size=64, overlap=16)
    assert backend.calls == [(1, 3, 64, 64)]
    assert seg.classes.shape == (30, 20) and (seg.classes > 0).all()


def test_bad_overlap_is_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        segment(read, HEIGHT, WIDTH, PixelBackend(), window_size=64, overlap=64)


def _classify_by_reduction(probs: np.ndarray, valid: np.ndarray, lut: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """The stitcher's classification as first written: max and argmax over the channel axis."""
    best = probs.max(axis=0)
    ok = valid & (best > 0)
    classes = np.where(ok, lut[probs.argmax(axis=0)], 0).astype(np.uint8)
    confidence = np.where(ok, np.rint(np.clip(best, 0, 1) * 100), 0).astype(np.uint8)
    return classes, confidence


@pytest.mark.parametrize("channels", [1, 2, 7, 44])
def test_plane_by_plane_argmax_equals_the_reduction(channels: int) -> None:
    from inference.stitch import _classify

    rng = np.random.default_rng(channels)
    probs = rng.random((channels, 64, 48), dtype=np.float32)
    probs[:, :4] = 0  # no class has any probability: invalid
    probs[:, 4:8] = 0.5  # exact ties: the first channel wins
    probs[-1, 8:12] = 1.7  # out of range: confidence clipped to 100
    valid = rng.random((64, 48)) > 0.2
    lut = np.arange(10, 10 + channels, dtype=np.uint8)
    got, want = _classify(probs, valid, lut), _classify_by_reduction(probs, valid, lut)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[0].dtype == got[1].dtype == np.uint8
    assert (got[0][4:8][valid[4:8]] == 10).all() and (got[1][8:12][valid[8:12]] == 100).all()


class ContextBackend(PixelBackend):
    """A model that sees context: each pixel's scores shift with its window's mean, so a
    window's answers depend on every pixel it reads (as a convolutional network's do)."""

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return super().predict(batch + batch.mean(axis=(2, 3), keepdims=True) * 3)


def _clouds(seed: int, shape: tuple[int, int], cell: int = 20) -> np.ndarray:
    """A cloud bank over the top-left (whole windows under it) and random cells elsewhere
    (windows partly under cloud)."""
    coarse = np.random.default_rng(seed).random((-(-shape[0] // cell), -(-shape[1] // cell)))
    cloud = np.kron(coarse > 0.5, np.ones((cell, cell), bool))[:shape[0], :shape[1]]
    cloud[:130, :120] = True
    return cloud


def test_windows_under_cloud_are_skipped_only_where_nothing_is_kept() -> None:
    """Of four 64 px windows: one all nodata and one whose only kept pixel is nodata are
    skipped; one with a single clear valid pixel and one all clear are run."""
    valid = np.ones((128, 128), bool)
    keep = np.zeros((128, 128), bool)
    valid[:64, :64] = False  # top-left: nothing valid
    keep[10, 100] = True  # top-right: one clear valid pixel among cloud
    keep[100, 10] = True
    valid[100, 10] = False  # bottom-left: the only clear pixel is nodata
    keep[64:, 64:] = True  # bottom-right: clear

    def read_it(window: Window) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = window.toslices()
        return SCENE[:, :64, :64] + 0 * window.col_off, valid[rows, cols]

    backend = ContextBackend()
    seg = segment(read_it, 128, 128, backend, window_size=64, batch_size=1,
                  keep=lambda w: keep[w.toslices()])
    assert len(backend.calls) == 2
    c = seg.counts
    assert (c.total, c.run, c.skipped_invalid, c.skipped_hidden) == (4, 2, 1, 1)
    assert c.skipped_share == 0.5 and c.batches == 2
    assert seg.classes[10, 100] > 0 and (seg.classes[64:, 64:] > 0).all()
    assert (seg.classes[64:, :64] == 0).all()
    # The skipped window's valid pixels are told apart from nodata ones.
    assert seg.unrun is not None
    np.testing.assert_array_equal(seg.unrun[64:, :64], valid[64:, :64])
    assert not seg.unrun[:64].any() and not seg.unrun[:, 64:].any()


@pytest.mark.parametrize("blend", BLENDS)
@pytest.mark.parametrize("size,overlap", [(64, 0), (64, 16), (48, 20)])
def test_skipping_cloudy_windows_changes_no_kept_pixel(blend: str, size: int,
                                                       overlap: int) -> None:
    keep = ~_clouds(3, (HEIGHT, WIDTH))
    kwargs = {"window_size": size, "batch_size": 3, "overlap": overlap, "blend": blend}
    full = segment(read, HEIGHT, WIDTH, ContextBackend(), **kwargs)
    skipping = segment(read, HEIGHT, WIDTH, ContextBackend(), **kwargs,
                       keep=lambda w: keep[w.toslices()])
    assert skipping.counts.skipped_hidden > 0 and skipping.counts.run > 0
    kept = keep & VALID
    np.testing.assert_array_equal(skipping.classes[kept], full.classes[kept])
    np.testing.assert_array_equal(skipping.confidence[kept], full.confidence[kept])
    # Where a pixel differs it is hidden, and was valid only where ``unrun`` says so.
    differs = skipping.classes != full.classes
    assert not (differs & kept).any()
    assert skipping.unrun is not None
    assert not (skipping.unrun & keep).any()
    np.testing.assert_array_equal(skipping.unrun & differs, differs)
