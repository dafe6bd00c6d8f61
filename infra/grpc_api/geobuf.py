"""GeoJSON <-> geobuf ``Data`` messages (the public geobuf format, version 3).

Coordinates are integers (value * 10^precision), each line or ring delta-encoded from its first
position; a ring's closing position is implied; ``lengths`` say how the coordinate stream splits
into lines, rings and polygons (left out where there is a single one), as the format specifies.

Only the codec lives here; the message classes are the caller's (``data_cls``) or ours,
imported when first needed, so a client decoding its own messages loads no other descriptors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

PRECISION = 6  # 0.1 m at the equator: finer than a 10 m pixel's edges need
TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
         "GeometryCollection")


class GeobufError(ValueError):
    """A geobuf message or GeoJSON object this codec cannot convert."""


def _data_class() -> Any:
    from infra.grpc_api.generated.geobufproto.geobuf_pb2 import Data

    return Data


# --- encoding --------------------------------------------------------------------------------

class _Encoder:
    def __init__(self, data: Any, precision: int) -> None:
        self.data, self.scale = data, 10 ** precision
        self.keys: dict[str, int] = {}

    def key(self, name: str) -> int:
        if name not in self.keys:
            self.keys[name] = len(self.keys)
            self.data.keys.append(name)
        return self.keys[name]

    def line(self, coords: list[int], line: Sequence[Sequence[float]], closed: bool) -> None:
        last = [0, 0]
        for position in line[:len(line) - 1] if closed else line:
            for axis in (0, 1):
                value = round(float(position[axis]) * self.scale)
                coords.append(value - last[axis])
                last[axis] = value

    def geometry(self, target: Any, geojson: dict[str, Any]) -> None:
        kind = geojson.get("type")
        if kind not in TYPES:
            raise GeobufError(f"geometry type {kind!r} is not a GeoJSON geometry type")
        target.type = TYPES.index(kind)
        if kind == "GeometryCollection":
            for member in geojson.get("geometries") or []:
                self.geometry(target.geometries.add(), member)
            return
        c = geojson["coordinates"]
        coords: list[int] = []
        if kind == "Point":
            coords = [round(float(v) * self.scale) for v in c[:2]]
        elif kind in ("MultiPoint", "LineString"):
            self.line(coords, c, closed=False)
        elif kind in ("MultiLineString", "Polygon"):
            closed = kind == "Polygon"
            if len(c) != 1:
                target.lengths.extend(len(line) - closed for line in c)
            for line in c:
                self.line(coords, line, closed)
        else:
            self.multipolygon(target, coords, c)
        target.coords.extend(coords)

    def multipolygon(self, target: Any, coords: list[int],
                     polygons: Sequence[Sequence[Sequence[Sequence[float]]]]) -> None:
        if len(polygons) != 1 or len(polygons[0]) != 1:
            target.lengths.append(len(polygons))
            for polygon in polygons:
                target.lengths.append(len(polygon))
                target.lengths.extend(len(ring) - 1 for ring in polygon)
        for polygon in polygons:
            for ring in polygon:
                self.line(coords, ring, closed=True)

    def feature(self, target: Any, feature: dict[str, Any]) -> None:
        self.geometry(target.geometry, feature.get("geometry") or {})
        fid = feature.get("id")
        if isinstance(fid, int) and not isinstance(fid, bool):
            target.int_id = fid
        elif fid is not None:
            target.id = str(fid)
        for name, value in (feature.get("properties") or {}).items():
            target.properties.extend([self.key(name), len(target.values)])
            _set_value(target.values.add(), value)


def _set_value(target: Any, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if value >= 0:
            target.pos_int_value = value
        else:
            target.neg_int_value = -value
    elif isinstance(value, float) and math.isfinite(value):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    else:
        target.json_value = json.dumps(value)


def encode(geojson: dict[str, Any], *, precision: int = PRECISION, data_cls: Any = None) -> Any:
    """A geobuf ``Data`` message of a GeoJSON FeatureCollection, Feature or geometry."""
    data = (data_cls or _data_class())()
    data.precision = precision
    data.dimensions = 2
    encoder = _Encoder(data, precision)
    kind = geojson.get("type")
    if kind == "FeatureCollection":
        collection = data.feature_collection
        collection.SetInParent()  # an empty collection is still one
        for feature in geojson.get("features") or []:
            encoder.feature(collection.features.add(), feature)
    elif kind == "Feature":
        encoder.feature(data.feature, geojson)
    else:
        encoder.geometry(data.geometry, geojson)
    return data


# --- decoding --------------------------------------------------------------------------------

def _positions(coords: Sequence[int], scale: float, closed: bool) -> list[list[float]]:
    out, last = [], [0, 0]
    for i in range(0, len(coords) - 1, 2):
        last = [last[0] + coords[i], last[1] + coords[i + 1]]
        out.append([last[0] / scale, last[1] / scale])
    if closed and out:
        out.append(list(out[0]))
    return out


def _split(coords: Sequence[int], counts: Iterable[int], scale: float, closed: bool
           ) -> list[list[list[float]]]:
    lines, start = [], 0
    for n in counts:
        lines.append(_positions(coords[start:start + 2 * n], scale, closed))
        start += 2 * n
    return lines


def _decode_geometry(geometry: Any, scale: float) -> dict[str, Any]:
    kind = TYPES[geometry.type]
    coords, lengths = list(geometry.coords), list(geometry.lengths)
    if kind == "GeometryCollection":
        return {"type": kind, "geometries": [_decode_geometry(g, scale)
                                             for g in geometry.geometries]}
    if kind == "Point":
        value: Any = [c / scale for c in coords[:2]]
    elif kind in ("MultiPoint", "LineString"):
        value = _positions(coords, scale, closed=False)
    elif kind in ("MultiLineString", "Polygon"):
        closed = kind == "Polygon"
        value = _split(coords, lengths, scale, closed) if lengths else [
            _positions(coords, scale, closed)]
    elif not lengths:
        value = [[_positions(coords, scale, closed=True)]]
    else:
        value, at, start = [], 1, 0
        for _ in range(lengths[0]):
            rings = lengths[at + 1:at + 1 + lengths[at]]
            value.append(_split(coords[start:], rings, scale, closed=True))
            start += 2 * sum(rings)
            at += 1 + lengths[at]
    return {"type": kind, "coordinates": value}


def _decode_value(value: Any) -> Any:
    which = value.WhichOneof("value_type")
    if which == "neg_int_value":
        return -value.neg_int_value
    if which == "json_value":
        return json.loads(value.json_value)
    return getattr(value, which) if which else None


def _decode_feature(feature: Any, keys: Sequence[str], scale: float) -> dict[str, Any]:
    pairs = list(feature.properties)
    properties = {keys[pairs[i]]: _decode_value(feature.values[pairs[i + 1]])
                  for i in range(0, len(pairs) - 1, 2)}
    out: dict[str, Any] = {"type": "Feature",
                           "geometry": _decode_geometry(feature.geometry, scale),
                           "properties": properties}
    which = feature.WhichOneof("id_type")
    if which:
        out["id"] = getattr(feature, which)
    return out


def decode(data: Any) -> dict[str, Any]:
    """The GeoJSON object of a geobuf ``Data`` message (anyone's generated class)."""
    if data.dimensions not in (0, 2):
        raise GeobufError(f"geobuf with {data.dimensions} dimensions: only 2 are read")
    scale = 10.0 ** data.precision
    keys = list(data.keys)
    try:
        which = data.WhichOneof("data_type")
        if which == "feature_collection":
            return {"type": "FeatureCollection", "features": [
                _decode_feature(f, keys, scale) for f in data.feature_collection.features]}
        if which == "feature":
            return _decode_feature(data.feature, keys, scale)
        if which == "geometry":
            return _decode_geometry(data.geometry, scale)
    except (IndexError, ValueError) as exc:
        raise GeobufError(f"malformed geobuf data: {exc}") from exc
    raise GeobufError("geobuf data holds no feature collection, feature or geometry")
