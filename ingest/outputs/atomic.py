"""Files that appear complete or not at all: written beside their place, then renamed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(dst: Path) -> Iterator[Path]:
    """A temporary path beside ``dst``, renamed onto it if the block succeeds, else removed."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=dst.suffix, dir=dst.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(0o644)  # mkstemp makes it private; published files are for every reader
        tmp.replace(dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
