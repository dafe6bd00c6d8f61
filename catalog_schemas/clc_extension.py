"""The project's ``clc`` extension as a pystac extension: the land-cover statistics of an item.

The names are :mod:`catalog_schemas.landcover_stats`'s (``clc:classes``, ``clc:valid_fraction``,
``clc:fraction_<code>``), the JSON schema ships as ``schemas/clc/v1.0.0/schema.json``. Landcover
items declare this extension in ``stac_extensions`` (they have since the first release; the
tests give validators the shipped schema, as the URI resolves nowhere public). The project's
other properties, ``earthsig:*``, are :mod:`catalog_schemas.earthsig_extension`'s.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any, Literal

import pystac
from pystac.extensions.base import ExtensionManagementMixin, PropertiesExtension

from catalog_schemas import landcover_stats as names

SCHEMA_URI = names.SCHEMA_URI
SCHEMA_FILE = "schemas/clc/v1.0.0/schema.json"
_FRACTION = re.compile(rf"^{names.PREFIX}:fraction_(\d+)$")


@cache
def schema() -> dict[str, Any]:
    """The extension's JSON schema (draft 7), as shipped in the package."""
    return json.loads(files("catalog_schemas").joinpath(SCHEMA_FILE).read_text())


class ClcExtension(PropertiesExtension, ExtensionManagementMixin[pystac.Item]):
    """The ``clc:*`` statistics of a landcover item. Get one with :meth:`ext`."""

    name: Literal["clc"] = "clc"

    def __init__(self, item: pystac.Item) -> None:
        self.item = item
        self.properties = item.properties

    def __repr__(self) -> str:
        return f"<ClcExtension Item id={self.item.id}>"

    @classmethod
    def get_schema_uri(cls) -> str:
        return SCHEMA_URI

    @classmethod
    def ext(cls, obj: pystac.Item, add_if_missing: bool = False) -> ClcExtension:
        if not isinstance(obj, pystac.Item):
            raise pystac.ExtensionTypeError(cls._ext_error_message(obj))
        cls.ensure_has_extension(obj, add_if_missing)
        return cls(obj)

    def apply(self, classes: list[int], valid_fraction: float,
              fractions: dict[int, float]) -> None:
        """The CLC codes present, the share of usable pixels and each class's share of them."""
        self.classes = classes
        self.valid_fraction = valid_fraction
        self.fractions = fractions

    @property
    def classes(self) -> list[int] | None:
        """CLC level-3 codes present (stored as strings: see ``landcover_stats``)."""
        codes = self._get_property(names.CLASSES, list)
        return None if codes is None else [int(c) for c in codes]

    @classes.setter
    def classes(self, v: list[int] | None) -> None:
        self._set_property(names.CLASSES, None if v is None else [str(int(c)) for c in v])

    @property
    def valid_fraction(self) -> float | None:
        return self._get_property(names.VALID_FRACTION, float)

    @valid_fraction.setter
    def valid_fraction(self, v: float | None) -> None:
        self._set_property(names.VALID_FRACTION, v)

    @property
    def fractions(self) -> dict[int, float]:
        """CLC code -> share of the valid pixels (classes absent from the item: no entry)."""
        return {int(m.group(1)): value for key, value in self.properties.items()
                if (m := _FRACTION.match(key))}

    @fractions.setter
    def fractions(self, v: dict[int, float]) -> None:
        for key in [k for k in self.properties if _FRACTION.match(k)]:
            del self.properties[key]
        for code, fraction in v.items():
            self._set_property(names.fraction_key(code), fraction)
