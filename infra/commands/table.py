"""Plain-text tables for the CLI: columns as wide as their widest cell, so they line up
whatever the names and descriptions are."""

from __future__ import annotations

from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[str]], gap: int = 2) -> list[str]:
    """The lines of ``rows`` under ``header``, each column left-aligned; the last column is
    not padded (no trailing spaces)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    return [(" " * gap).join(str(cell).ljust(width) for cell, width in
                             zip(line, widths, strict=True)).rstrip()
            for line in (header, *rows)]
