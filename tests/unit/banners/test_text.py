"""Line breaking and fitting, measured with a real font of known advances.

The font is built by the test (helpers.make_font): at 20 px a CJK glyph advances 20 px,
a Latin one 12 px and a space 5 px, so every expected line can be worked out by hand.
"""

from __future__ import annotations

import io

import pytest
from PIL import ImageFont

from app.banners.text import Face, atoms, ellipsize, fit_text, wrap
from tests.unit.banners.helpers import make_font

CJK = "一二三四五六七八九十会员专享满减，。！（）…"
FONT = make_font(CJK + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789·")
_faces: dict[int, Face] = {}


def face_at(size: int) -> Face:
    if size not in _faces:
        font = ImageFont.truetype(io.BytesIO(FONT), size, layout_engine=ImageFont.Layout.BASIC)
        _faces[size] = Face(font, size)
    return _faces[size]


def test_the_font_measures_as_designed() -> None:
    face = face_at(20)
    assert (face.width("一"), face.width("A"), face.width(" ")) == (20, 12, 5)
    assert face.width("一A一") == 52


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("会员专享，满300减50！", ["会", "员", "专", "享，", "满", "300", "减", "50！"]),
        ("Hello  big\tworld ", ["Hello", " ", "big", " ", "world"]),
        ("（限时）特惠", ["（限", "时）", "特", "惠"]),
        ("专享 · 权益", ["专", "享 ·", " ", "权", "益"]),  # the dot never starts a line
        ("VIP专享", ["VIP", "专", "享"]),
    ],
)
def test_atoms_follow_the_line_breaking_rules(text: str, expected: list[str]) -> None:
    assert atoms(text) == expected


def test_cjk_breaks_between_any_two_characters() -> None:
    assert wrap("一二三四五六七八九十", 100, face_at(20)) == ["一二三四五", "六七八九十"]


def test_closing_punctuation_never_starts_a_line() -> None:
    # "五，" (40 px) does not fit after 一二三四 (80 px) in 100 px: 五 moves down with it.
    assert wrap("一二三四五，六七", 100, face_at(20)) == ["一二三四", "五，六七"]


def test_latin_breaks_at_spaces() -> None:
    assert wrap("Hello big world", 110, face_at(20)) == ["Hello big", "world"]


def test_a_word_wider_than_the_box_breaks_between_letters() -> None:
    assert wrap("ABCDEFGHIJKL", 60, face_at(20)) == ["ABCDE", "FGHIJ", "KL"]


def test_newlines_force_breaks() -> None:
    assert wrap("一二\n三", 200, face_at(20)) == ["一二", "三"]


def test_short_text_keeps_the_largest_size() -> None:
    fitted = fit_text("会员专享", 400, 100, (10, 40), 2, 1.25, face_at)
    assert fitted is not None
    assert (fitted.face.size, fitted.lines, fitted.truncated) == (40, ("会员专享",), False)
    assert fitted.line_height == 50


def test_long_text_shrinks_to_one_line() -> None:
    # 10 CJK characters in 200 px on one line: 20 px each at most.
    fitted = fit_text("一二三四五六七八九十", 200, 40, (10, 40), 1, 1.0, face_at)
    assert fitted is not None and (fitted.face.size, len(fitted.lines)) == (20, 1)


def test_long_text_wraps_before_it_shrinks_further() -> None:
    # Two lines in 200×60: at 30 px six characters a line, two lines 60 px high.
    fitted = fit_text("一二三四五六七八九十", 200, 60, (10, 40), 2, 1.0, face_at)
    assert fitted is not None
    assert (fitted.face.size, fitted.lines) == (30, ("一二三四五六", "七八九十"))


def test_text_too_long_even_at_the_smallest_size_ends_with_an_ellipsis() -> None:
    text = "会员专享满减" * 20
    fitted = fit_text(text, 200, 60, (20, 40), 2, 1.0, face_at)
    assert fitted is not None and fitted.truncated
    assert fitted.face.size == 20 and len(fitted.lines) == 2
    assert fitted.lines[0] == "会员专享满减会员专享" and fitted.lines[1].endswith("…")
    assert all(face_at(20).width(line) <= 200 for line in fitted.lines)


def test_the_height_caps_the_lines_too() -> None:
    fitted = fit_text("一二三四五六七八九十" * 3, 100, 50, (20, 20), 5, 1.0, face_at)
    assert fitted is not None and len(fitted.lines) == 2 and fitted.truncated


def test_more_forced_lines_than_allowed_are_cut_at_the_smallest_size() -> None:
    fitted = fit_text("一\n二\n三", 200, 200, (10, 40), 2, 1.0, face_at)
    assert fitted is not None and fitted.truncated
    assert (fitted.face.size, fitted.lines) == (10, ("一", "二…"))


def test_forced_lines_bound_the_size() -> None:
    fitted = fit_text("一\n二", 200, 60, (10, 40), 2, 1.0, face_at)
    assert fitted is not None and (fitted.face.size, fitted.lines) == (30, ("一", "二"))


def test_ellipsize_trims_until_the_mark_fits() -> None:
    assert ellipsize("一二三四五", 100, face_at(20)) == "一二三四…"
    assert ellipsize("Hello big", 75, face_at(20)) == "Hello…"  # the space before … goes too


def test_empty_text_is_nothing() -> None:
    assert fit_text("  ", 100, 100, (10, 20), 2, 1.25, face_at) is None
