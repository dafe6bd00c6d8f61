"""Names of the land-cover statistics every landcover item carries (the project's extension).

Class codes are stored as strings: pgstac compares arrays as text, and in CQL2 text an integer
list such as ``(5)`` becomes ``[5.0]`` and silently matches nothing; ``'311'`` cannot be
misread. Fractions are per class, over valid pixels (not nodata, not cloud), 0-1.
"""

from __future__ import annotations

PREFIX = "clc"
CLASSES = f"{PREFIX}:classes"  # ["211", "311", ...] CLC codes present, as strings
VALID_FRACTION = f"{PREFIX}:valid_fraction"  # share of the footprint with usable pixels
SCHEMA_URI = "https://earthsignature.org/stac-extensions/clc/v1.0.0/schema.json"


def fraction_key(clc_code: int | str) -> str:
    """``clc:fraction_311``: the share of valid pixels that are class 311."""
    return f"{PREFIX}:fraction_{int(clc_code)}"
