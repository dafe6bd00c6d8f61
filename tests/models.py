"""Model repositories for tests, built the explicit way: looking a model up never builds it."""

from __future__ import annotations

from pathlib import Path

from inference.repository import ModelRepository

SUITE_MODEL = "clc-spectral"  # the suite's default model (tests/conftest.py)


def built(root: Path, *names: str) -> Path:
    """``root``, with the versions of the reference models ``names`` (default: the suite's
    model) that it lacks built into it."""
    ModelRepository(root).build_references(names or [SUITE_MODEL], only_missing=True)
    return root
