"""Checking a banner template as a merchant PUTs it: every problem, each with its JSON path.

:func:`validate_template` answers the template and its warnings, or raises a
:class:`~app.banners.problems.TemplateError` listing every problem found (path, code,
message), so the console can mark all of them at once:

* the shape of each field (pydantic; ``missing``, ``unknown_field``, ``out_of_range``,
  ``too_many`` for more than 20 layers, …);
* ``duplicate_id`` (two layers with one id), ``duplicate_size``;
* ``unknown_element``, ``wrong_element_kind`` (a font used as a picture, …);
* ``outside_canvas``: a box not entirely on its canvas (the base one or an extra size's);
* ``unknown_variable`` in a text;
* ``unknown_layer`` / ``field_not_allowed`` in a variant or an extra size;
* ``missing_glyphs``: the layer's uploaded font lacks characters of the text;
  ``missing_font``: the text needs the system CJK font and the server has none (or it
  lacks the characters);
* ``absolute_wording`` when the shop treats absolute terms as errors; otherwise each hit
  is a :class:`TemplateWarning`.

Problems of single fields come first: the checks across fields run once every field is
well-formed, so a body with both kinds gets the second kind on its next PUT.

Glyphs are checked on the literal characters of a text (what every visitor sees);
variable values arrive at compose time, where characters no font has are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import ValidationError

from app.banners.elements import ElementInfo
from app.banners.fonts import FontSource, font_codepoints, preferred_face, system_cjk_font
from app.banners.problems import Problem, TemplateError, json_path
from app.banners.template import (
    LAYER_MODELS,
    SIZE_FIELDS,
    TEXT_VARIABLES,
    VARIANT_FIELDS,
    BannerTemplate,
    ImageLayer,
    ShapeLayer,
    TextLayer,
    literal_text,
    override,
    placeholders,
)
from app.banners.wording import DEFAULT_ABSOLUTE_TERMS, wording_hits
from app.core.problems import FIELD_ERRORS, field_error

FontLoader = Callable[[str], FontSource]


class TemplateWarning(NamedTuple):
    """Something a merchant should reconsider but may keep (named so as not to shadow ``Warning``)."""

    path: str
    code: str  # "absolute_wording"
    term: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return self._asdict()


def validate_template(
    body: Any,
    known_elements: Mapping[str, ElementInfo],
    *,
    absolute_terms: Sequence[str] = DEFAULT_ABSOLUTE_TERMS,
    wording_errors: bool = False,
    load_font: FontLoader | None = None,
) -> tuple[BannerTemplate, list[TemplateWarning]]:
    """The template and its warnings, or :class:`TemplateError` with every problem.

    ``known_elements``: the shop's elements by id. ``load_font(element_id)`` gives an
    uploaded font's bytes or path, to check its glyphs; it is needed only when a layer
    uses an uploaded font (a missing loader then is a programming error: ValueError).
    """
    if not isinstance(body, Mapping):
        raise TemplateError([Problem("$", "invalid_type", "The template must be a JSON object.")])
    try:
        template = BannerTemplate.model_validate(dict(body))
    except ValidationError as exc:
        raise TemplateError(pydantic_problems(exc, "$")) from None
    check = _Checker(known_elements, absolute_terms, wording_errors, load_font)
    check.template(template)
    if check.problems:
        raise TemplateError(check.problems)
    return template, check.warnings


# ---------------------------------------------------------------------------------------
# pydantic's errors as problems

# A layer's type picks its model: say so when it is missing or unknown.
_FIELD_ERRORS: dict[str, tuple[str, str]] = {
    **FIELD_ERRORS,
    "union_tag_invalid": (
        "invalid_choice",
        "Unknown layer type {tag!r}; use one of {expected_tags}.",
    ),
    "union_tag_not_found": (
        "missing",
        "A layer needs a 'type': image, product_image, text or shape.",
    ),
}


_COLOR = ("invalid_color", "A colour is #rrggbb, #rrggbbaa (with opacity) or #rgb, e.g. #e4393c.")
_NAME = "Use letters, digits, '_' and '-', starting with a letter (at most 32 characters)."
_PATTERN_MESSAGES: dict[str, tuple[str, str]] = {
    "color": _COLOR,
    "fill": _COLOR,
    "background": _COLOR,
    "id": ("invalid_format", _NAME),
    "name": ("invalid_format", _NAME),
}


_BOX_SHAPE = frozenset(
    {
        "missing",
        "too_long",
        "too_short",
        "tuple_type",
        "list_type",
        "int_type",
        "int_parsing",
        "int_from_float",
    }
)


def _in_box(loc: list[Any]) -> bool:
    """The error is about a box or one of its four numbers (not a layer that is called "box")."""
    return bool(loc) and (
        loc[-1] == "box" or (len(loc) >= 2 and loc[-2] == "box" and isinstance(loc[-1], int))
    )


def pydantic_problems(exc: ValidationError, root: str) -> list[Problem]:
    """pydantic's errors as problems with JSON paths under ``root``."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if p != "[key]"]
        # A discriminated union names the chosen model in the location: layers.2.text.box
        if len(loc) >= 3 and loc[0] == "layers" and loc[2] in LAYER_MODELS:
            del loc[2]
        etype = err["type"]
        ctx = dict(err.get("ctx") or {})
        if etype.startswith("union_tag"):
            loc.append("type")
        field = next((p for p in reversed(loc) if isinstance(p, str)), "")
        if _in_box(loc) and etype in _BOX_SHAPE:  # [0, 0, 10], "0,0", [0, "a", 1, 1]
            loc = loc if loc[-1] == "box" else loc[:-1]
            code, message = "invalid_box", "A box is [x, y, width, height] in whole canvas pixels."
        elif etype == "string_pattern_mismatch" and field in _PATTERN_MESSAGES:
            code, message = _PATTERN_MESSAGES[field]
        elif (known := field_error(etype, loc[-1] if loc else "", ctx, err["msg"], _FIELD_ERRORS)) is not None:
            code, message = known
        else:  # our PydanticCustomError codes (invalid_box, invalid_size) and anything unforeseen
            code, message = etype, err["msg"]
        out.append(Problem(json_path(loc, root), code, message))
    return out


# ---------------------------------------------------------------------------------------
# the checks that need more than one field


def _chars(chars: Iterable[str]) -> str:
    return " ".join(repr(c) for c in sorted(chars))


class _Checker:
    def __init__(
        self,
        known: Mapping[str, ElementInfo],
        terms: Sequence[str],
        wording_errors: bool,
        load_font: FontLoader | None,
    ) -> None:
        self.known = known
        self.terms = terms
        self.wording_errors = wording_errors
        self.load_font = load_font
        self.problems: list[Problem] = []
        self.warnings: list[TemplateWarning] = []

    def add(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def template(self, t: BannerTemplate) -> None:
        width, height = t.canvas.width, t.canvas.height
        seen: set[str] = set()
        for i, layer in enumerate(t.layers):
            root = f"$.layers[{i}]"
            if layer.id in seen:
                self.add(
                    f"{root}.id", "duplicate_id", f"Another layer is already called {layer.id!r}."
                )
            seen.add(layer.id)
            self.layer(layer, root, width, height, fields=None)
        by_id = {layer.id: layer for layer in t.layers}
        names: set[str] = set()
        for i, size in enumerate(t.sizes):
            if size.name in names:
                self.add(
                    f"$.sizes[{i}].name",
                    "duplicate_size",
                    f"Another size is already called {size.name!r}.",
                )
            names.add(size.name)
            for layer_id, changes in size.layers.items():
                path = json_path(["sizes", i, "layers", layer_id])
                layer = by_id.get(layer_id)
                if layer is None:
                    self.add(path, "unknown_layer", f"The template has no layer {layer_id!r}.")
                    continue
                for field in changes.model_dump(exclude_none=True):
                    if field not in SIZE_FIELDS[layer.type]:
                        allowed = ", ".join(sorted(SIZE_FIELDS[layer.type]))
                        self.add(
                            f"{path}.{field}",
                            "field_not_allowed",
                            f"A size may not change {field!r} of a {layer.type} layer; it may change {allowed}.",
                        )
                if changes.box is not None:
                    self.box(changes.box, f"{path}.box", size.width, size.height)
        for crowd, layers in t.variants.items():
            for layer_id, changes in layers.items():
                self.variant(by_id, crowd, layer_id, changes, width, height)

    def variant(
        self,
        by_id: Mapping[str, Any],
        crowd: str,
        layer_id: str,
        changes: Mapping[str, Any],
        width: int,
        height: int,
    ) -> None:
        root = json_path(["variants", crowd, layer_id])
        layer = by_id.get(layer_id)
        if layer is None:
            self.add(
                root,
                "unknown_layer",
                f"The template has no layer {layer_id!r} for this variant to change.",
            )
            return
        allowed = VARIANT_FIELDS[layer.type]
        bad = [field for field in changes if field not in allowed]
        for field in bad:
            self.add(
                json_path([field], root),
                "field_not_allowed",
                f"A variant may not change {field!r} of a {layer.type} layer; it may change "
                f"{', '.join(sorted(allowed))}.",
            )
        if bad:
            return
        try:
            merged = override(layer, changes)
        except ValidationError as exc:
            self.problems.extend(pydantic_problems(exc, root))
            return
        self.layer(merged, root, width, height, fields=set(changes))

    def layer(
        self, layer: Any, root: str, width: int, height: int, fields: set[str] | None
    ) -> None:
        """Check one layer; with ``fields``, only what depends on those (a variant's changes)."""

        def changed(*names: str) -> bool:
            return fields is None or any(n in fields for n in names)

        if changed("box"):
            self.box(layer.box, f"{root}.box", width, height)
        if isinstance(layer, ImageLayer) and changed("element"):
            self.element(layer.element, f"{root}.element", "image")
        if isinstance(layer, TextLayer | ShapeLayer):
            if layer.font is not None and changed("font"):
                self.element(layer.font, f"{root}.font", "font")
            if layer.text and changed("text", "font"):
                path = f"{root}.text" if changed("text") else f"{root}.font"
                self.text(layer.text, layer.font, path, f"{root}.text")

    def box(self, box: tuple[int, int, int, int], path: str, width: int, height: int) -> None:
        x, y, w, h = box
        if x < 0 or y < 0 or x + w > width or y + h > height:
            self.add(
                path,
                "outside_canvas",
                f"The box [{x}, {y}, {w}, {h}] reaches outside the {width}×{height} canvas.",
            )

    def element(self, element: str, path: str, kind: str) -> bool:
        info = self.known.get(element)
        if info is None:
            self.add(path, "unknown_element", f"No uploaded element {element!r}; upload it first.")
            return False
        if info.kind != kind:
            self.add(path, "wrong_element_kind", f"{element!r} is a {info.kind}, not a {kind}.")
            return False
        return True

    def text(self, text: str, font: str | None, path: str, text_path: str) -> None:
        names = placeholders(text)
        unknown = [n for n in dict.fromkeys(names) if n not in TEXT_VARIABLES]
        if unknown:
            self.add(
                text_path,
                "unknown_variable",
                f"Unknown variable(s) {', '.join('{' + n + '}' for n in unknown)}; "
                f"available: {', '.join('{' + n + '}' for n in TEXT_VARIABLES)}.",
            )
        literal = literal_text(text)
        self.glyphs(literal, font, path)
        for term in wording_hits(text, self.terms):
            message = (
                f"{term!r} is an absolute term the Advertising Law forbids in ads (广告法 第九条)."
            )
            if self.wording_errors:
                self.add(text_path, "absolute_wording", message)
            else:
                self.warnings.append(TemplateWarning(text_path, "absolute_wording", term, message))

    def glyphs(self, literal: str, font: str | None, path: str) -> None:
        chars = {c for c in literal if not c.isspace()}
        if not chars:
            return
        if font is None:
            system = system_cjk_font()
            if system is None:
                missing = {c for c in chars if not " " <= c <= "~"}  # Pillow's own font: ASCII
                if missing:
                    self.add(
                        path,
                        "missing_font",
                        f"The server has no font with {_chars(missing)} (install fonts-noto-cjk, or "
                        "choose an uploaded font for this layer).",
                    )
                return
            covered = font_codepoints(system, preferred_face(system))
            missing = {c for c in chars if ord(c) not in covered}
            if missing:
                self.add(
                    path,
                    "missing_font",
                    f"The system font has no glyph for {_chars(missing)}; choose an uploaded font that has them.",
                )
            return
        info = self.known.get(font)
        if info is None or info.kind != "font":
            return  # already reported as the font's problem
        if self.load_font is None:
            raise ValueError(
                "validate_template needs load_font to check the glyphs of uploaded fonts"
            )
        load_font = self.load_font
        covered = font_codepoints(lambda: load_font(font), 0, key=font)
        missing = {c for c in chars if ord(c) not in covered}
        if missing:
            self.add(
                path,
                "missing_glyphs",
                f"The font {font!r} has no glyph for {_chars(missing)}; they would show as empty boxes.",
            )
