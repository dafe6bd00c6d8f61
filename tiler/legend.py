"""Legends of the class colormaps (``clc``, ``cloudmask``): JSON entries and a PNG image.

The PNG is for clients that show an image next to a layer (QGIS's legend, a web page); the
JSON is for clients that draw their own. Both come from ``catalog_schemas``, the same source
as the colormaps, so a legend cannot disagree with the tiles.
"""

from __future__ import annotations

import io
from enum import StrEnum
from functools import cache

from fastapi import APIRouter, FastAPI
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel
from starlette.responses import Response

from catalog_schemas import clc, cloudmask
from catalog_schemas.collections import CLC_COLORMAP_NAME

CLOUDMASK_COLORMAP_NAME = "cloudmask"

# PNG layout, in pixels.
_ROW, _SWATCH, _PAD, _FONT_SIZE = 20, 14, 6, 12


class LegendName(StrEnum):
    clc = CLC_COLORMAP_NAME
    cloudmask = CLOUDMASK_COLORMAP_NAME


class LegendEntry(BaseModel):
    value: int
    code: str
    name: str
    level1: str | None = None
    level2: str | None = None
    color: str
    rgba: tuple[int, int, int, int]


class Legend(BaseModel):
    colormap_name: str
    title: str
    entries: list[LegendEntry]


def _clc_legend() -> Legend:
    entries = [
        LegendEntry(value=c.grid_code, code=str(c.clc_code), name=c.name, level1=c.level1,
                    level2=c.level2, color=f"#{c.hex_color}", rgba=(*c.rgb, 255))
        for c in clc.clc_classes()
    ]
    return Legend(colormap_name=CLC_COLORMAP_NAME, title="CORINE Land Cover", entries=entries)


def _cloudmask_legend() -> Legend:
    entries = [
        LegendEntry(value=c.value, code=c.name, name=c.description, color=f"#{c.hex_color}",
                    rgba=(*c.rgb, 255))
        for c in cloudmask.CLOUD_CLASSES
    ]
    return Legend(colormap_name=CLOUDMASK_COLORMAP_NAME, title="Cloud mask", entries=entries)


def legend(name: LegendName) -> Legend:
    """The legend of a registered class colormap (nodata, which is transparent, left out)."""
    return _clc_legend() if name is LegendName.clc else _cloudmask_legend()


@cache
def legend_png(name: LegendName) -> bytes:
    """One row per class: a swatch in the tile colour, then code and name."""
    doc = legend(name)
    font = ImageFont.load_default(size=_FONT_SIZE)
    labels = [f"{e.code}  {e.name}" for e in doc.entries]
    text_width = max(int(font.getlength(t)) for t in [doc.title, *labels])
    width = _PAD * 3 + _SWATCH + text_width
    height = _PAD * 2 + _ROW * (len(labels) + 1)
    image = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.text((_PAD, _PAD), doc.title, fill=(0, 0, 0, 255), font=font)
    for row, (entry, label) in enumerate(zip(doc.entries, labels, strict=True), start=1):
        top = _PAD + row * _ROW
        draw.rectangle((_PAD, top, _PAD + _SWATCH, top + _SWATCH), fill=entry.rgba,
                       outline=(90, 90, 90, 255))
        draw.text((_PAD * 2 + _SWATCH, top), label, fill=(0, 0, 0, 255), font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def add_legend_routes(app: FastAPI) -> None:
    """``/legends/{name}`` (JSON) and ``/legends/{name}.png``."""
    router = APIRouter(prefix="/legends", tags=["Legends"])

    # Registered first: ``{name}`` alone would also match ``clc.png``.
    @router.get("/{name}.png", response_class=Response,
                responses={200: {"content": {"image/png": {}}}})
    def legend_image(name: LegendName) -> Response:
        return Response(legend_png(name), media_type="image/png")

    @router.get("/{name}", response_model=Legend)
    def legend_json(name: LegendName) -> Legend:
        return legend(name)

    app.include_router(router)
