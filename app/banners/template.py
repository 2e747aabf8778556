"""A banner template, as a merchant PUTs it, and the layers one picture is drawn from.

    {"canvas": {"width": 1200, "height": 400, "background": "#fff7f0"},
     "sizes": [{"name": "mobile", "width": 750, "height": 500,
                "layers": {"title": {"box": [40, 40, 670, 200]}}}],
     "layers": [
       {"id": "bg", "type": "image", "element": "el_…", "box": [0, 0, 1200, 400], "fit": "cover"},
       {"id": "product", "type": "product_image", "index": 0, "box": [800, 40, 360, 320],
        "fit": "contain", "cutout": true},
       {"id": "title", "type": "text", "text": "{crowd_name}专享 · {right}", "font": null,
        "size": [24, 64], "color": "#222222", "align": "left", "valign": "middle",
        "max_lines": 2, "box": [60, 60, 680, 160]},
       {"id": "badge", "type": "shape", "shape": "badge", "box": [660, 250, 120, 120],
        "fill": "#e4393c", "text": "{product_price}", "color": "#ffffff"}],
     "variants": {"vip": {"title": {"text": "尊享 · {right}"}, "bg": {"element": "el_…"}}}}

``box`` is ``[x, y, width, height]`` in canvas pixels; layers are drawn in order. A text
(``{name}`` for a variable, ``{{``/``}}`` for a brace) may use only
:data:`TEXT_VARIABLES`; a variable without a value renders as nothing. ``font: null``
means the system CJK font. A variant changes, for one crowd, some fields of some layers
(:data:`VARIANT_FIELDS` says which); an extra size re-lays the same design on another
canvas: boxes scale with the canvas (x by w'/w, y by h'/h), font sizes and radii by the
smaller of the two factors, and ``sizes[i].layers`` may move, resize or hide a layer
there (:data:`SIZE_FIELDS`), in that size's pixels. Badges keep their proportions (scaled
by the smaller factor, centred in the scaled box).

The models check each field on its own; :mod:`app.banners.validation` checks the rest
(elements exist, boxes inside the canvas, glyphs, wording) with JSON paths.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

MAX_LAYERS = 20
MAX_CANVAS = 4000  # pixels, each side: 16 Mpx, 64 MB as RGBA
MAX_SIZES = 8
MAX_VARIANTS = 500
MAX_TEXT = 200  # characters of a text layer (a banner, not an article)

TEXT_VARIABLES: tuple[str, ...] = (
    "crowd_name",
    "right",
    "product_title",
    "product_price",
    "occasion",
    "shop_name",
)

# ---------------------------------------------------------------------------------------
# field types


def _box(value: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    if value[2] < 1 or value[3] < 1:
        raise PydanticCustomError(
            "invalid_box", "A box is [x, y, width, height]; width and height must be at least 1."
        )
    return value


def _font_size(value: Any) -> Any:
    return [value, value] if isinstance(value, int) and not isinstance(value, bool) else value


def _size_range(value: tuple[int, int]) -> tuple[int, int]:
    low, high = value
    if not 4 <= low <= high <= 1000:
        raise PydanticCustomError(
            "invalid_size",
            "A font size is [smallest, largest] in pixels, 4 ≤ smallest ≤ largest ≤ 1000.",
        )
    return value


Box = Annotated[tuple[int, int, int, int], AfterValidator(_box)]
FontSize = Annotated[tuple[int, int], BeforeValidator(_font_size), AfterValidator(_size_range)]
Color = Annotated[
    str,
    Field(
        pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$",
        examples=["#e4393c", "#00000080"],
    ),
    AfterValidator(str.lower),
]
LayerId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
CrowdId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]
SizeName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
ElementRef = Annotated[str, Field(min_length=1, max_length=64)]
Side = Annotated[int, Field(ge=1, le=MAX_CANVAS)]
Fit = Literal["contain", "cover"]
Align = Literal[
    "center",
    "top",
    "bottom",
    "left",
    "right",
    "top_left",
    "top_right",
    "bottom_left",
    "bottom_right",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------
# layers


class _Layer(_Model):
    id: LayerId
    box: Box
    visible: bool = True  # a variant or a size may hide a layer


class ImageLayer(_Layer):
    """An uploaded picture (background, decoration, logo)."""

    type: Literal["image"]
    element: ElementRef
    fit: Fit = "cover"
    align: Align = "center"


class ProductImageLayer(_Layer):
    """The photo of the ``index``-th product shown with the banner; skipped when it has none."""

    type: Literal["product_image"]
    index: Annotated[int, Field(ge=0, le=19)] = 0
    fit: Fit = "contain"
    align: Align = "center"
    cutout: bool = False  # remove the photo's plain background (app.banners.cutout)


class _Lettering(_Model):
    font: ElementRef | None = None  # an uploaded font; None: the system CJK font
    size: FontSize = (12, 48)  # [smallest, largest]: text shrinks to fit between the two
    color: Color = "#222222"
    max_lines: Annotated[int, Field(ge=1, le=10)] = 2
    line_height: Annotated[float, Field(ge=0.8, le=3.0)] = 1.25  # times the font size


class TextLayer(_Layer, _Lettering):
    type: Literal["text"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    align: Literal["left", "center", "right"] = "left"
    valign: Literal["top", "middle", "bottom"] = "middle"


class ShapeLayer(_Layer, _Lettering):
    """A rounded rectangle (``radius``) or a badge (the ellipse in the box), with optional text."""

    type: Literal["shape"]
    shape: Literal["rounded_rect", "badge"]
    fill: Color
    radius: Annotated[int, Field(ge=0, le=MAX_CANVAS)] = 0
    text: Annotated[str, Field(max_length=40)] | None = None
    color: Color = "#ffffff"


Layer = Annotated[
    ImageLayer | ProductImageLayer | TextLayer | ShapeLayer, Field(discriminator="type")
]
LAYER_MODELS: Mapping[str, type[_Layer]] = MappingProxyType(
    {
        "image": ImageLayer,
        "product_image": ProductImageLayer,
        "text": TextLayer,
        "shape": ShapeLayer,
    }
)

# What a crowd's variant may change: content and look, per layer type (never id or type).
_LETTERING = frozenset({"font", "size", "color", "max_lines", "line_height"})
VARIANT_FIELDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "image": frozenset({"element", "fit", "align", "box", "visible"}),
        "product_image": frozenset({"index", "fit", "align", "cutout", "box", "visible"}),
        "text": frozenset({"text", "align", "valign", "box", "visible"}) | _LETTERING,
        "shape": frozenset({"fill", "radius", "text", "box", "visible"}) | _LETTERING,
    }
)
# What an extra size may change (layout only), per layer type.
SIZE_FIELDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "image": frozenset({"box", "visible"}),
        "product_image": frozenset({"box", "visible"}),
        "text": frozenset({"box", "visible", "size", "max_lines"}),
        "shape": frozenset({"box", "visible", "size", "max_lines", "radius"}),
    }
)


class SizeLayer(_Model):
    """A layer's layout in an extra size, in that size's pixels (unset fields: scaled)."""

    box: Box | None = None
    visible: bool | None = None
    size: FontSize | None = None
    max_lines: Annotated[int, Field(ge=1, le=10)] | None = None
    radius: Annotated[int, Field(ge=0, le=MAX_CANVAS)] | None = None


class OutputSize(_Model):
    name: SizeName
    width: Side
    height: Side
    layers: Annotated[dict[LayerId, SizeLayer], Field(max_length=MAX_LAYERS)] = {}


class Canvas(_Model):
    width: Side
    height: Side
    background: Color = "#ffffff"  # with alpha ("#ffffff00") the banner is transparent there


class BannerTemplate(_Model):
    canvas: Canvas
    sizes: Annotated[list[OutputSize], Field(max_length=MAX_SIZES)] = []
    layers: Annotated[list[Layer], Field(min_length=1, max_length=MAX_LAYERS)]
    # crowd id -> layer id -> {field: value}; checked field by field by validation.py
    variants: Annotated[
        dict[CrowdId, dict[LayerId, dict[str, Any]]], Field(max_length=MAX_VARIANTS)
    ] = {}


# ---------------------------------------------------------------------------------------
# text variables

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def placeholders(text: str) -> list[str]:
    """The variable names a text uses, in order (``{{``/``}}`` are literal braces)."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(text) if m.group(1) is not None]


def fill(text: str, variables: Mapping[str, str]) -> str:
    """The text with its variables replaced (missing ones by nothing) and braces unescaped."""

    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return str(variables.get(m.group(1), ""))

    return _PLACEHOLDER.sub(one, text)


def literal_text(text: str) -> str:
    """The characters a text shows whatever the variables are (what fonts are checked on)."""
    return fill(text, {})


# ---------------------------------------------------------------------------------------
# the layers of one picture


@dataclass(frozen=True)
class Layout:
    """What one picture is drawn from: its canvas and its visible layers, in order."""

    width: int
    height: int
    background: str
    layers: tuple[ImageLayer | ProductImageLayer | TextLayer | ShapeLayer, ...]


def override(layer: Any, changes: Mapping[str, Any]) -> Any:
    """``layer`` with ``changes`` applied, validated again (raises pydantic's ValidationError)."""
    if not changes:
        return layer
    return type(layer).model_validate({**layer.model_dump(), **changes})


def find_size(template: BannerTemplate, name: str) -> OutputSize | None:
    return next((s for s in template.sizes if s.name == name), None)


def _round(value: float) -> int:
    """Half up, always (round() goes to even: 37.5 -> 38 but 462.5 -> 462)."""
    return math.floor(value + 0.5)


def _scale_box(box: tuple[int, int, int, int], sx: float, sy: float) -> tuple[int, int, int, int]:
    # Scale the edges, not x and width separately, so adjacent boxes stay adjacent.
    x0, y0 = _round(box[0] * sx), _round(box[1] * sy)
    x1, y1 = _round((box[0] + box[2]) * sx), _round((box[1] + box[3]) * sy)
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


def _scaled(layer: Any, sx: float, sy: float) -> dict[str, Any]:
    s = min(sx, sy)
    box = _scale_box(layer.box, sx, sy)
    if isinstance(layer, ShapeLayer) and layer.shape == "badge":
        # A round badge stretched by a canvas of another shape would look broken: it
        # keeps its proportions (scaled by the smaller factor), centred where it moved to.
        w, h = max(1, _round(layer.box[2] * s)), max(1, _round(layer.box[3] * s))
        box = (box[0] + (box[2] - w) // 2, box[1] + (box[3] - h) // 2, w, h)
    changes: dict[str, Any] = {"box": box}
    if isinstance(layer, _Lettering):
        low, high = layer.size
        low2, high2 = max(4, math.floor(low * s)), max(4, _round(high * s))
        changes["size"] = (min(low2, high2), high2)
    if isinstance(layer, ShapeLayer):
        changes["radius"] = _round(layer.radius * s)
    return changes


def layout(
    template: BannerTemplate, crowd_id: str | None = None, size: str | None = None
) -> Layout:
    """The canvas and visible layers of ``template`` for a crowd's variant and an output size.

    Raises KeyError for a size the template does not define.
    """
    changes = template.variants.get(crowd_id, {}) if crowd_id is not None else {}
    layers = [override(layer, changes.get(layer.id, {})) for layer in template.layers]
    width, height = template.canvas.width, template.canvas.height
    if size is not None:
        extra = find_size(template, size)
        if extra is None:
            raise KeyError(size)
        sx, sy = extra.width / width, extra.height / height
        layers = [
            override(
                layer,
                {**_scaled(layer, sx, sy), **extra.layers[layer.id].model_dump(exclude_none=True)},
            )
            if layer.id in extra.layers
            else override(layer, _scaled(layer, sx, sy))
            for layer in layers
        ]
        width, height = extra.width, extra.height
    return Layout(
        width, height, template.canvas.background, tuple(layer for layer in layers if layer.visible)
    )
