"""Breaking and fitting text in a box: CJK and Latin, largest size first.

Lines break between any two CJK characters and at spaces between Latin words; a word
longer than the box breaks between letters. Closing punctuation (，。！) never starts a
line and opening punctuation (（「) never ends one (the CJK line-breaking rules,
禁则): they stick to their neighbour.

:func:`fit_text` tries sizes from the largest down, one pixel at a time, and takes the
first at which the lines fit ``max_lines`` and the box height; when even the smallest
does not fit, the text is cut after the lines that fit and ends with "…". Widths come
from per-character advances cached per face (a CJK glyph costs ~8 µs to measure,
a cached one nothing); kerning is not applied to CJK fonts by Pillow's basic layout, and
for Latin fonts the difference is a pixel or two.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import ImageFont

ELLIPSIS = "…"

# Characters that may not start a line (closing brackets, stops, commas, …) and that may
# not end one (opening brackets, currency signs before an amount).
CLOSING = frozenset("，。、；：！？）》」』】〕〉〗’”…‥・·～ー%,.;:!?)]}")
OPENING = frozenset("（《「『【〔〈〖‘“([{¥￥$#")


def is_cjk(ch: str) -> bool:
    """Characters a line may break before and after (ideographs, kana, hangul, CJK punctuation)."""
    cp = ord(ch)
    return (
        0x2E80
        <= cp
        <= 0x9FFF  # radicals, CJK punctuation, kana, bopomofo, ext. A, unified ideographs
        or 0xAC00 <= cp <= 0xD7AF  # hangul syllables
        or 0xF900 <= cp <= 0xFAFF  # compatibility ideographs
        or 0xFE30 <= cp <= 0xFE4F  # compatibility forms
        or 0xFF00 <= cp <= 0xFFEF  # full-width forms (，！（）)
        or 0x20000 <= cp <= 0x3FFFF  # ideographs, extensions B and later
    )


class Face:
    """A font at one size, with the advances of the characters it has measured."""

    def __init__(self, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, size: int) -> None:
        self.font = font
        self.size = size
        self._advance: dict[str, float] = {}

    def width(self, text: str) -> float:
        advance = self._advance
        total = 0.0
        for ch in text:
            w = advance.get(ch)
            if w is None:
                w = advance[ch] = float(self.font.getlength(ch))
            total += w
        return total


FaceAt = Callable[[int], Face]


def atoms(text: str) -> list[str]:
    """The unbreakable pieces of one paragraph; " " marks a (collapsed) space between them."""
    raw: list[str] = []
    word = ""
    for ch in text:
        if ch.isspace() or is_cjk(ch) or ch in CLOSING or ch in OPENING:
            if word:
                raw.append(word)
                word = ""
            if not ch.isspace():
                raw.append(ch)
            elif raw and raw[-1] != " ":
                raw.append(" ")
        else:
            word += ch
    if word:
        raw.append(word)
    out: list[str] = []
    for atom in raw:
        if atom == " ":
            out.append(atom)
        elif atom[0] in CLOSING and out:
            if out[-1] == " " and len(out) > 1:  # "专享 ·": the space must not become the break
                out.pop()
                out[-1] += " " + atom
            elif out[-1] != " ":
                out[-1] += atom
            else:
                out.append(atom)
        elif out and out[-1] != " " and out[-1][-1] in OPENING:
            out[-1] += atom
        else:
            out.append(atom)
    while out and out[-1] == " ":
        out.pop()
    return out


def wrap(text: str, width: float, face: Face) -> list[str]:
    """Greedy line breaking of ``text`` (``\\n`` forces a break) within ``width`` pixels."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, line_w, space = "", 0.0, False
        for atom in atoms(paragraph):
            if atom == " ":
                space = bool(line)
                continue
            glue = " " if space else ""
            atom_w = face.width(atom)
            glue_w = face.width(glue)
            space = False
            if line and line_w + glue_w + atom_w <= width:
                line, line_w = line + glue + atom, line_w + glue_w + atom_w
                continue
            if line:
                lines.append(line)
                line, line_w = "", 0.0
            if atom_w <= width:
                line, line_w = atom, atom_w
                continue
            for ch in atom:  # a word wider than the box: break between letters
                ch_w = face.width(ch)
                if line and line_w + ch_w > width:
                    lines.append(line)
                    line, line_w = "", 0.0
                line, line_w = line + ch, line_w + ch_w
        if line:
            lines.append(line)
    return lines


@dataclass(frozen=True)
class FittedText:
    lines: tuple[str, ...]
    face: Face
    line_height: float  # pixels from one line's top to the next
    truncated: bool  # cut to max_lines / the box height, ending with "…"


def ellipsize(line: str, width: float, face: Face) -> str:
    """``line`` shortened until it fits ``width`` with "…" after it."""
    mark = ELLIPSIS
    while line and face.width(line.rstrip() + mark) > width:
        line = line[:-1]
    return line.rstrip() + mark


def fit_text(
    text: str,
    width: int,
    height: int,
    sizes: tuple[int, int],
    max_lines: int,
    line_height: float,
    face_at: FaceAt,
) -> FittedText | None:
    """The largest size in ``sizes`` at which ``text`` fits the box, else the smallest, cut.

    None for an empty text.
    """
    if not text.strip():
        return None
    low, high = sizes
    # No size above these can fit, so the search starts there: the forced lines must fit
    # the height, and all the text must fit max_lines full lines (widths scale with the
    # size; the +1 absorbs the rounding of hinted advances).
    probe = face_at(high)
    total = probe.width(text.replace("\n", ""))
    paragraphs = text.count("\n") + 1  # each starts a line of its own
    start = min(high, math.floor(height / (min(paragraphs, max_lines) * line_height)))
    if total > 0:
        start = min(start, math.floor(high * max_lines * width / total) + 1)
    start = max(low, start) if paragraphs <= max_lines else low - 1  # else: straight to the cut
    for size in range(start, low - 1, -1):
        face = face_at(size)
        lines = wrap(text, width, face)
        if len(lines) <= max_lines and len(lines) * size * line_height <= height:
            return FittedText(tuple(lines), face, size * line_height, False)
    face = face_at(low)
    lines = wrap(text, width, face)
    keep = max(1, min(max_lines, math.floor(height / (low * line_height))))
    if len(lines) <= keep:  # not even one line fits the height: draw it anyway, clipped
        return FittedText(tuple(lines), face, low * line_height, False)
    cut = [*lines[: keep - 1], ellipsize(lines[keep - 1], width, face)]
    return FittedText(tuple(cut), face, low * line_height, True)
