"""The project's own ``earthsig:*`` item properties as a pystac extension, with its JSON schema.

Landcover, change and label items carry properties no public STAC extension has: the source
product and the model of a land cover, the transitions and areas of a change, the window and
confidence of a labelling candidate. :class:`EarthsigExtension` reads and writes them the way
pystac's own extensions do (``EarthsigExtension.ext(item).model = "clc-unet:1"``), and
``schemas/earthsig/v1.0.0/schema.json`` (package data) says what each may hold; the tests
validate every item the builders make against it.

Unlike pystac's extensions, this one is **not declared** in an item's ``stac_extensions``:
``ext()`` neither requires nor adds :data:`SCHEMA_URI`. The URI resolves nowhere public, so a
STAC validator meeting it in an item would fail to fetch it, and the published items would
change shape; the schema is used where it ships, by :mod:`catalog_schemas.validation` and the
tests. (The ``clc`` statistics extension, :mod:`catalog_schemas.clc_extension`, is declared:
landcover items have carried its URI since the first release.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Any, Literal

import pystac
from pystac.extensions.base import ExtensionManagementMixin, PropertiesExtension

PREFIX = "earthsig"
SCHEMA_URI = "https://earthsignature.org/stac-extensions/earthsig/v1.0.0/schema.json"
SCHEMA_FILE = "schemas/earthsig/v1.0.0/schema.json"

# Landcover items: where the land cover comes from.
SOURCE_PRODUCT = f"{PREFIX}:source_product"  # id of the Sentinel-2 product
MODEL = f"{PREFIX}:model"  # name:version of the model (also on change and label items)
MODEL_LICENSE = f"{PREFIX}:model_license"  # a pretrained model's weights: licence,
MODEL_ATTRIBUTION = f"{PREFIX}:model_attribution"  # attribution
MODEL_CITATION = f"{PREFIX}:model_citation"  # and citation, as its MLM document says

# Change items (collection ``changes``).
TILE = f"{PREFIX}:tile"  # MGRS tile, e.g. "31TCJ"
MODE = f"{PREFIX}:change_mode"  # "pair" or "composite"
BEFORE_ITEMS = f"{PREFIX}:before_items"  # landcover item ids, before
AFTER_ITEMS = f"{PREFIX}:after_items"  # and after
TRANSITIONS = f"{PREFIX}:transitions"  # [{"from": "311", "to": "334", "pixels", "area_ha"}]
CHANGED_AREA = f"{PREFIX}:changed_area_ha"
VALID_AREA = f"{PREFIX}:valid_area_ha"

# Label items (collection ``labels``): one labelling candidate window of a landcover item.
SOURCE_ITEM = f"{PREFIX}:source_item"  # the landcover item's id
MEAN_CONFIDENCE = f"{PREFIX}:mean_confidence"  # 0-100, over the window's classified pixels
DOMINANT_CLASS = f"{PREFIX}:dominant_class"  # CLC code (string) most predicted in the window
WINDOW = f"{PREFIX}:window"  # [row, col, height, width] in the landcover item's grid

ChangeMode = Literal["pair", "composite"]


@cache
def schema() -> dict[str, Any]:
    """The extension's JSON schema (draft 7), as shipped in the package."""
    return json.loads(files("catalog_schemas").joinpath(SCHEMA_FILE).read_text())


class EarthsigExtension(PropertiesExtension, ExtensionManagementMixin[pystac.Item]):
    """The ``earthsig:*`` properties of an item. Get one with :meth:`ext`."""

    name: Literal["earthsig"] = "earthsig"

    def __init__(self, item: pystac.Item) -> None:
        self.item = item
        self.properties = item.properties

    def __repr__(self) -> str:
        return f"<EarthsigExtension Item id={self.item.id}>"

    @classmethod
    def get_schema_uri(cls) -> str:
        return SCHEMA_URI

    @classmethod
    def ext(cls, obj: pystac.Item, add_if_missing: bool = False) -> EarthsigExtension:
        """The extension of ``obj``, declared or not (see the module); ``add_if_missing``
        declares it, for a catalog that serves the schema at :data:`SCHEMA_URI`."""
        if not isinstance(obj, pystac.Item):
            raise pystac.ExtensionTypeError(cls._ext_error_message(obj))
        if add_if_missing:
            cls.add_to(obj)
        return cls(obj)

    # --- landcover items ---

    def apply_landcover(self, *, source_product: str, model: str, license: str | None = None,
                        attribution: str | None = None, citation: str | None = None) -> None:
        """The lineage of a land cover: its product and model (with the weights' terms)."""
        self.source_product = source_product
        self.model = model
        self.model_license = license
        self.model_attribution = attribution
        self.model_citation = citation

    @property
    def source_product(self) -> str | None:
        return self._get_property(SOURCE_PRODUCT, str)

    @source_product.setter
    def source_product(self, v: str | None) -> None:
        self._set_property(SOURCE_PRODUCT, v)

    @property
    def model(self) -> str | None:
        """The model as ``name:version``."""
        return self._get_property(MODEL, str)

    @model.setter
    def model(self, v: str | None) -> None:
        self._set_property(MODEL, v)

    @property
    def model_license(self) -> str | None:
        return self._get_property(MODEL_LICENSE, str)

    @model_license.setter
    def model_license(self, v: str | None) -> None:
        self._set_property(MODEL_LICENSE, v)

    @property
    def model_attribution(self) -> str | None:
        return self._get_property(MODEL_ATTRIBUTION, str)

    @model_attribution.setter
    def model_attribution(self, v: str | None) -> None:
        self._set_property(MODEL_ATTRIBUTION, v)

    @property
    def model_citation(self) -> str | None:
        return self._get_property(MODEL_CITATION, str)

    @model_citation.setter
    def model_citation(self, v: str | None) -> None:
        self._set_property(MODEL_CITATION, v)

    # --- change items ---

    def apply_change(self, *, tile: str, mode: ChangeMode, model: str,
                     before_items: Iterable[str], after_items: Iterable[str],
                     transitions: list[dict[str, Any]], changed_area_ha: float,
                     valid_area_ha: float) -> None:
        """A change: what it compares, and the transitions and areas it found."""
        self.tile = tile
        self.mode = mode
        self.model = model
        self.before_items = list(before_items)
        self.after_items = list(after_items)
        self.transitions = transitions
        self.changed_area_ha = changed_area_ha
        self.valid_area_ha = valid_area_ha

    @property
    def tile(self) -> str | None:
        return self._get_property(TILE, str)

    @tile.setter
    def tile(self, v: str | None) -> None:
        self._set_property(TILE, v)

    @property
    def mode(self) -> ChangeMode | None:
        mode = self._get_property(MODE, str)
        return mode if mode in ("pair", "composite") else None  # type: ignore[return-value]

    @mode.setter
    def mode(self, v: ChangeMode | None) -> None:
        self._set_property(MODE, v)

    @property
    def before_items(self) -> list[str] | None:
        return self._get_property(BEFORE_ITEMS, list)

    @before_items.setter
    def before_items(self, v: list[str] | None) -> None:
        self._set_property(BEFORE_ITEMS, v)

    @property
    def after_items(self) -> list[str] | None:
        return self._get_property(AFTER_ITEMS, list)

    @after_items.setter
    def after_items(self, v: list[str] | None) -> None:
        self._set_property(AFTER_ITEMS, v)

    @property
    def transitions(self) -> list[dict[str, Any]] | None:
        """``{"from": "311", "to": "334", "pixels": n, "area_ha": a}`` per transition."""
        return self._get_property(TRANSITIONS, list)

    @transitions.setter
    def transitions(self, v: list[dict[str, Any]] | None) -> None:
        self._set_property(TRANSITIONS, v)

    @property
    def changed_area_ha(self) -> float | None:
        return self._get_property(CHANGED_AREA, float)

    @changed_area_ha.setter
    def changed_area_ha(self, v: float | None) -> None:
        self._set_property(CHANGED_AREA, v)

    @property
    def valid_area_ha(self) -> float | None:
        return self._get_property(VALID_AREA, float)

    @valid_area_ha.setter
    def valid_area_ha(self, v: float | None) -> None:
        self._set_property(VALID_AREA, v)

    # --- label items ---

    def apply_label(self, *, source_item: str, model: str | None, mean_confidence: float,
                    dominant_class: str, window: list[int]) -> None:
        """A labelling candidate: its window of a landcover item and how sure the model was."""
        self.source_item = source_item
        self._set_property(MODEL, model, pop_if_none=False)  # null when the source has none
        self.mean_confidence = mean_confidence
        self.dominant_class = dominant_class
        self.window = window

    @property
    def source_item(self) -> str | None:
        return self._get_property(SOURCE_ITEM, str)

    @source_item.setter
    def source_item(self, v: str | None) -> None:
        self._set_property(SOURCE_ITEM, v)

    @property
    def mean_confidence(self) -> float | None:
        return self._get_property(MEAN_CONFIDENCE, float)

    @mean_confidence.setter
    def mean_confidence(self, v: float | None) -> None:
        self._set_property(MEAN_CONFIDENCE, v)

    @property
    def dominant_class(self) -> str | None:
        """A CLC level-3 code, as a string (as ``clc:classes`` writes codes)."""
        return self._get_property(DOMINANT_CLASS, str)

    @dominant_class.setter
    def dominant_class(self, v: str | None) -> None:
        self._set_property(DOMINANT_CLASS, v)

    @property
    def window(self) -> list[int] | None:
        """``[row, col, height, width]`` in the landcover item's grid."""
        return self._get_property(WINDOW, list)

    @window.setter
    def window(self, v: list[int] | None) -> None:
        self._set_property(WINDOW, v)
