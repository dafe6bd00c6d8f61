"""What a SAFE product's own metadata (``MTD_MSIL2A.xml`` / ``MTD_MSIL1C.xml``) says.

Only what reading needs: identity and time, footprint, cloud cover, and the radiometry -
quantification value, per-band additive offsets (``BOA_ADD_OFFSET`` in L2A, ``RADIO_ADD_OFFSET``
in L1C, present from processing baseline 04.00) and the NODATA/SATURATED special values.
Reflectance = (DN + offset) / quantification value; a product without an offset list (baseline
< 04.00) has offset 0 - that absence is itself what the metadata says.

Elements are found by local name, whatever their namespace: ESA changed the namespaces between
product versions, never the element names.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ingest.errors import InvalidProductError

# Band order of ``band_id`` attributes when a product lists no Spectral_Information.
BAND_ORDER = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
              "B11", "B12")
LEVELS = {"Level-2A": "L2A", "Level-2Ap": "L2A", "Level-1C": "L1C"}


@dataclass(frozen=True)
class SafeMetadata:
    product_uri: str
    level: str  # "L2A" or "L1C"
    product_type: str
    baseline: str
    start: dt.datetime
    spacecraft: str  # "Sentinel-2A"
    footprint: list[tuple[float, float]]  # (lon, lat) ring
    quantification: float
    offsets: dict[str, float] = field(default_factory=dict)  # band -> DN offset
    nodata: float | None = 0.0
    saturated: float | None = 65535.0
    cloud_cover: float | None = None
    orbit: int | None = None

    def scale_offset(self, band: str) -> tuple[float, float]:
        """(scale, offset) such that reflectance = DN * scale + offset."""
        return 1.0 / self.quantification, self.offsets.get(band, 0.0) / self.quantification


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _all(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if _local(e.tag) == name]


def _text(root: ET.Element, name: str, where: str) -> str:
    found = _all(root, name)
    if not found or not (found[0].text or "").strip():
        raise InvalidProductError(f"{where}: no {name} in the product metadata")
    return (found[0].text or "").strip()


def _optional(root: ET.Element, name: str) -> str | None:
    found = _all(root, name)
    return (found[0].text or "").strip() if found and found[0].text else None


def band_name(physical: str) -> str:
    """``B1`` -> ``B01``, ``B8A`` -> ``B8A``."""
    match = re.fullmatch(r"B(\d{1,2})(A?)", physical.strip().upper())
    if match is None:
        raise ValueError(f"not a Sentinel-2 band: {physical!r}")
    return f"B{int(match.group(1)):02d}" if not match.group(2) else f"B{match.group(1)}A"


def parse_safe_metadata(xml: bytes, where: str) -> SafeMetadata:
    """Parse the product-level metadata file; ``where`` names it in error messages."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise InvalidProductError(f"{where}: not XML: {exc}") from exc
    level_text = _text(root, "PROCESSING_LEVEL", where)
    if level_text not in LEVELS:
        raise InvalidProductError(f"{where}: unsupported processing level {level_text!r}")
    level = LEVELS[level_text]
    bands = _band_ids(root)
    quant_name = "BOA_QUANTIFICATION_VALUE" if level == "L2A" else "QUANTIFICATION_VALUE"
    offset_name = "BOA_ADD_OFFSET" if level == "L2A" else "RADIO_ADD_OFFSET"
    offsets = {bands.get(e.get("band_id", ""), ""): float((e.text or "0").strip())
               for e in _all(root, offset_name)}
    special = {_optional(e, "SPECIAL_VALUE_TEXT"): _optional(e, "SPECIAL_VALUE_INDEX")
               for e in _all(root, "Special_Values")}
    try:
        return SafeMetadata(
            product_uri=_text(root, "PRODUCT_URI", where),
            level=level,
            product_type=_text(root, "PRODUCT_TYPE", where),
            baseline=_text(root, "PROCESSING_BASELINE", where),
            start=_datetime(_text(root, "PRODUCT_START_TIME", where)),
            spacecraft=_text(root, "SPACECRAFT_NAME", where),
            footprint=_footprint(_text(root, "EXT_POS_LIST", where)),
            quantification=float(_text(root, quant_name, where)),
            offsets={b: v for b, v in offsets.items() if b},
            nodata=_number(special.get("NODATA")),
            saturated=_number(special.get("SATURATED")),
            cloud_cover=_number(_optional(root, "Cloud_Coverage_Assessment")),
            orbit=int(o) if (o := _optional(root, "SENSING_ORBIT_NUMBER")) else None,
        )
    except ValueError as exc:
        raise InvalidProductError(f"{where}: malformed metadata: {exc}") from exc


def _band_ids(root: ET.Element) -> dict[str, str]:
    listed = {e.get("bandId", ""): band_name(e.get("physicalBand", ""))
              for e in _all(root, "Spectral_Information") if e.get("physicalBand")}
    return listed or {str(i): name for i, name in enumerate(BAND_ORDER)}


def _datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _footprint(text: str) -> list[tuple[float, float]]:
    """EXT_POS_LIST is ``lat lon lat lon ...``; GeoJSON wants (lon, lat)."""
    values = [float(v) for v in text.split()]
    if len(values) < 8 or len(values) % 2:
        raise ValueError(f"footprint has {len(values)} numbers")
    ring = [(values[i + 1], values[i]) for i in range(0, len(values), 2)]
    return ring if ring[0] == ring[-1] else [*ring, ring[0]]


def _number(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def parse_sun_angles(xml: bytes, where: str) -> tuple[float, float] | None:
    """(zenith, azimuth) in degrees of the granule's ``Mean_Sun_Angle`` (``MTD_TL.xml``);
    None when the file does not give them."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise InvalidProductError(f"{where}: not XML: {exc}") from exc
    sun = _all(root, "Mean_Sun_Angle")
    if not sun:
        return None
    zenith, azimuth = _optional(sun[0], "ZENITH_ANGLE"), _optional(sun[0], "AZIMUTH_ANGLE")
    if zenith is None or azimuth is None:
        return None
    try:
        angles = float(zenith), float(azimuth)
    except ValueError as exc:
        raise InvalidProductError(f"{where}: malformed sun angles: {exc}") from exc
    if not (0 <= angles[0] < 90 and 0 <= angles[1] <= 360):
        raise InvalidProductError(f"{where}: sun angles out of range: zenith {angles[0]}, "
                                  f"azimuth {angles[1]}")
    return angles
