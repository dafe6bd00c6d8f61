"""The project's extensions (clc, earthsig): the pystac classes round-trip their properties,
every item the builders make validates against the shipped schemas, and a wrong value fails."""

from __future__ import annotations

import copy

import pystac
import pytest

from catalog_schemas import clc_extension, earthsig_extension
from catalog_schemas.clc_extension import ClcExtension
from catalog_schemas.earthsig_extension import EarthsigExtension
from catalog_schemas.validation import ValidationError, extension_errors, validate_item
from tests.catalog_schemas import built_items

ITEMS = built_items.all_items()


def _bare_item() -> pystac.Item:
    return pystac.Item("probe", built_items.GEOMETRY, built_items.BBOX, built_items.WHEN, {})


def _linked(item: dict) -> dict:
    """The item as served: with the collection link the STAC core schema asks for."""
    return {**item, "links": [*item["links"], {
        "rel": "collection", "href": "../collection.json", "type": "application/json"}]}


def _round_trip(item: pystac.Item) -> pystac.Item:
    return pystac.Item.from_dict(item.to_dict(), preserve_dict=False)


def test_earthsig_properties_round_trip_without_declaring_the_extension() -> None:
    item = _bare_item()
    ext = EarthsigExtension.ext(item)
    ext.apply_landcover(source_product="S2B_X", model="clc-unet:1", license="CC-BY-4.0")
    ext.apply_change(tile="31TEJ", mode="pair", model="clc-unet:1", before_items=["a"],
                     after_items=["b"], changed_area_ha=0.4, valid_area_ha=1.0,
                     transitions=[{"from": "311", "to": "334", "pixels": 4, "area_ha": 0.4}])
    ext.apply_label(source_item="a", model="clc-unet:1", mean_confidence=41.2,
                    dominant_class="311", window=[0, 64, 64, 64])
    back = EarthsigExtension.ext(_round_trip(item))
    assert (back.source_product, back.model, back.model_license, back.model_citation) == (
        "S2B_X", "clc-unet:1", "CC-BY-4.0", None)
    assert (back.tile, back.mode, back.before_items, back.after_items) == (
        "31TEJ", "pair", ["a"], ["b"])
    assert back.transitions == [{"from": "311", "to": "334", "pixels": 4, "area_ha": 0.4}]
    assert (back.changed_area_ha, back.valid_area_ha) == (0.4, 1.0)
    assert (back.source_item, back.mean_confidence, back.dominant_class, back.window) == (
        "a", 41.2, "311", [0, 64, 64, 64])
    assert earthsig_extension.SCHEMA_URI not in item.stac_extensions
    assert not EarthsigExtension.has_extension(item)
    EarthsigExtension.ext(item, add_if_missing=True)  # declaring stays possible, on request
    assert item.stac_extensions == [earthsig_extension.SCHEMA_URI]


def test_clc_statistics_round_trip_and_declare_the_extension() -> None:
    item = _bare_item()
    with pytest.raises(pystac.ExtensionNotImplemented):
        ClcExtension.ext(item)
    ClcExtension.ext(item, add_if_missing=True).apply([211, 311], 0.9, {211: 0.25, 311: 0.75})
    assert item.properties["clc:classes"] == ["211", "311"]  # codes as strings
    back = ClcExtension.ext(_round_trip(item))
    assert (back.classes, back.valid_fraction, back.fractions) == (
        [211, 311], 0.9, {211: 0.25, 311: 0.75})
    back.fractions = {311: 1.0}
    assert back.fractions == {311: 1.0} and "clc:fraction_211" not in back.properties
    assert item.stac_extensions == [clc_extension.SCHEMA_URI]


def test_the_builders_set_the_properties_through_the_extensions() -> None:
    landcover = EarthsigExtension.ext(ITEMS["landcover"])
    assert landcover.source_product == built_items.source_item().id
    assert (landcover.model, landcover.model_license) == ("clc-unet:1", "CC-BY-4.0")
    assert EarthsigExtension.ext(ITEMS["landcover-own-model"]).model_license is None
    assert ClcExtension.ext(ITEMS["landcover"]).fractions == {211: 0.25, 311: 0.75}
    change = EarthsigExtension.ext(ITEMS["change"])
    assert (change.tile, change.mode, change.changed_area_ha) == ("31TEJ", "pair", 0.4)
    label = EarthsigExtension.ext(ITEMS["label"])
    assert (label.dominant_class, label.window, label.mean_confidence) == (
        "311", [0, 64, 64, 64], 41.235)


@pytest.mark.parametrize("kind", sorted(ITEMS))
def test_every_built_item_validates_against_the_shipped_schemas(kind: str) -> None:
    item = ITEMS[kind].to_dict()
    assert earthsig_extension.SCHEMA_URI not in item["stac_extensions"]  # items as published
    assert extension_errors(item, earthsig_extension.schema()) == []
    if kind.startswith("landcover"):
        assert clc_extension.SCHEMA_URI in item["stac_extensions"]
        assert extension_errors(item, clc_extension.schema()) == []
    validate_item(_linked(item))


@pytest.mark.parametrize(("kind", "key", "value", "where"), [
    ("landcover", "earthsig:model", 3, "properties/earthsig:model"),
    ("landcover", "earthsig:model", "no-version", "properties/earthsig:model"),
    ("landcover", "earthsig:source_product", ["S2B"], "properties/earthsig:source_product"),
    ("landcover", "earthsig:modle", "clc-unet:1", "properties"),  # a misspelt name
    ("change", "earthsig:change_mode", "triple", "properties/earthsig:change_mode"),
    ("change", "earthsig:changed_area_ha", "0.4", "properties/earthsig:changed_area_ha"),
    ("change", "earthsig:transitions", [{"from": 311, "to": "334", "pixels": 4, "area_ha": 1}],
     "properties/earthsig:transitions/0/from"),
    ("label", "earthsig:window", [0, 64, 64], "properties/earthsig:window"),
    ("label", "earthsig:mean_confidence", 101, "properties/earthsig:mean_confidence"),
    ("label", "earthsig:dominant_class", 311, "properties/earthsig:dominant_class"),
])
def test_a_wrong_earthsig_value_fails(kind: str, key: str, value: object, where: str) -> None:
    item = _linked(copy.deepcopy(ITEMS[kind].to_dict()))
    item["properties"][key] = value
    errors = extension_errors(item, earthsig_extension.schema())
    assert errors and errors[0].startswith(f"{where}: ")
    with pytest.raises(ValidationError, match="earthsig extension"):
        validate_item(item)


@pytest.mark.parametrize(("key", "value"), [
    ("clc:valid_fraction", "0.9"), ("clc:classes", [311]), ("clc:fraction_311", 1.5)])
def test_a_wrong_clc_value_fails(key: str, value: object) -> None:
    item = _linked(copy.deepcopy(ITEMS["landcover"].to_dict()))
    item["properties"][key] = value
    assert extension_errors(item, clc_extension.schema())
    with pytest.raises(ValidationError, match="clc extension"):
        validate_item(item)
