"""One model over one raster: the MLM document decides scaling and class values."""

from __future__ import annotations

from collections.abc import Callable

from inference.backends import Backend, open_backend
from inference.repository import ResolvedModel
from inference.settings import InferenceSettings
from inference.windows import KeepMask, Segmentation, WindowReader, segment


def run_model(read_window: WindowReader, height: int, width: int, model: ResolvedModel,
              settings: InferenceSettings, *, backend: Backend | None = None,
              keep: KeepMask | None = None,
              progress: Callable[[int, int], None] | None = None) -> Segmentation:
    """Segment a raster with ``model`` on the settings' backend (made here, in this process);
    windows where ``keep`` keeps no valid pixel are not run."""
    spec = model.spec
    return segment(read_window, height, width, backend or open_backend(model, settings),
                   window_size=settings.window_size,
                   batch_size=settings.batch_size_for(spec.name),
                   overlap=settings.window_overlap, blend=settings.blend,
                   prepare=spec.prepare, values=spec.raster_values, keep=keep,
                   progress=progress)
