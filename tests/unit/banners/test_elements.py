"""Uploaded elements: judged by content, bombs and corrupt files refused with the right status."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from app.banners.elements import ElementLimits, decode_image, element_id, inspect_element
from app.banners.fonts import CJK_FONT_ENV, FONT_DIR_ENV, font_covers, font_file, system_cjk_font
from app.banners.problems import ElementError
from tests.unit.banners.helpers import (
    bomb_png,
    encoded,
    make_font,
    product_photo,
    requires_cjk_font,
)

REPO = Path(__file__).resolve().parents[3]
DEFAULT_LIMITS = ElementLimits()


def refused(data: bytes, limits: ElementLimits = DEFAULT_LIMITS) -> ElementError:
    with pytest.raises(ElementError) as caught:
        inspect_element(data, limits)
    return caught.value


@pytest.mark.parametrize(("fmt", "name"), [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp")])
def test_pictures_are_recognised_by_content(fmt: str, name: str) -> None:
    data = encoded(product_photo(120), fmt)
    info = inspect_element(data)
    assert (info.kind, info.format, info.width, info.height, info.bytes) == (
        "image",
        name,
        120,
        120,
        len(data),
    )
    assert info.id == element_id(data) and info.id.startswith("el_") and len(info.id) == 27
    assert info.sha256.startswith(info.id[3:])


def test_same_bytes_same_id_other_bytes_other_id() -> None:
    a = encoded(product_photo(64), "PNG")
    b = encoded(product_photo(64, seed=8), "PNG")
    assert inspect_element(a).id == inspect_element(bytes(a)).id
    assert inspect_element(a).id != inspect_element(b).id


def test_exif_rotated_photo_reports_its_upright_size() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    data = encoded(Image.new("RGB", (80, 40), "red"), "JPEG", exif=exif)
    info = inspect_element(data)
    assert (info.width, info.height) == (40, 80)
    assert decode_image(data).size == (40, 80)


def test_a_text_file_named_png_is_unsupported() -> None:
    err = refused("name,price\n龙井,268\n".encode())
    assert (err.status, err.code) == (415, "unsupported_media_type")


def test_a_gif_is_named_in_the_refusal() -> None:
    err = refused(encoded(Image.new("P", (4, 4)), "GIF"))
    assert (err.status, err.code) == (415, "unsupported_media_type")
    assert "GIF" in err.message


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_pictures_are_corrupt(fmt: str) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # the check relies on Pillow's default
    data = encoded(product_photo(200), fmt)
    err = refused(data[: len(data) * 2 // 3])
    assert (err.status, err.code) == (422, "corrupt_file")


def test_a_png_with_a_damaged_header_is_corrupt() -> None:
    data = bytearray(encoded(product_photo(50), "PNG"))
    data[16:24] = b"\xff" * 8  # IHDR width/height garbage, CRC now wrong
    err = refused(bytes(data))
    assert (err.status, err.code) == (422, "corrupt_file")


def test_over_the_byte_limit_is_too_large() -> None:
    data = encoded(product_photo(100), "PNG")
    err = refused(data, ElementLimits(max_bytes=len(data) - 1))
    assert (err.status, err.code) == (413, "too_large")
    assert inspect_element(data, ElementLimits(max_bytes=len(data))).bytes == len(data)


def test_over_the_pixel_limit_is_too_large() -> None:
    data = encoded(Image.new("RGB", (300, 200)), "PNG")
    err = refused(data, ElementLimits(max_pixels=300 * 200 - 1))
    assert (err.status, err.code) == (413, "too_large")
    assert "60,000" in err.message


def test_defaults_are_documented_values() -> None:
    assert ElementLimits() == ElementLimits(max_bytes=20 * 1024 * 1024, max_pixels=40_000_000)


@pytest.mark.parametrize(
    ("width", "height", "pil_guard"),
    [
        (20_000, 20_000, True),  # 400 Mpx: Pillow's own guard fires at open
        (9_000, 9_000, False),  # 81 Mpx: below Pillow's guard, above ours
    ],
)
def test_decompression_bomb_is_refused_from_its_header(
    width: int, height: int, pil_guard: bool
) -> None:
    bomb = bomb_png(width, height)
    assert len(bomb) < 100_000
    tracemalloc.start()
    started = time.perf_counter()
    try:
        err = refused(bomb)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert (err.status, err.code) == (413, "too_large")
    assert time.perf_counter() - started < 1.0
    assert peak < 5 * 1024 * 1024  # never the width×height bytes a decode would take


def test_bomb_is_refused_even_with_pillows_guard_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    err = refused(bomb_png(20_000, 20_000))
    assert (err.status, err.code) == (413, "too_large")


def test_bombs_cost_no_memory_in_a_fresh_process() -> None:
    # tracemalloc does not see Pillow's C allocations; the peak resident size of a clean
    # process does. Decoding would take 400 MB, 81 MB and 400 MB: one byte per pixel.
    script = textwrap.dedent(
        """
        import resource
        from PIL import Image
        from app.banners.elements import inspect_element
        from app.banners.problems import ElementError
        from tests.unit.banners.helpers import bomb_png

        def peak():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        for side, pillow_guard in ((20_000, True), (9_000, True), (20_000, False)):
            if not pillow_guard:
                Image.MAX_IMAGE_PIXELS = None
            bomb = bomb_png(side, side)
            before = peak()
            try:
                inspect_element(bomb)
            except ElementError as err:
                assert err.status == 413, err.status
            else:
                raise SystemExit("accepted")
            print(peak() - before)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    growth = [int(line) for line in out.stdout.split()]
    assert len(growth) == 3 and max(growth) < 20 * 1024, growth  # KiB of peak growth


# ---------------------------------------------------------------------------------------
# fonts


@pytest.mark.parametrize(("cff", "fmt"), [(False, "ttf"), (True, "otf")])
def test_fonts_are_recognised_and_read(cff: bool, fmt: str) -> None:
    data = make_font("AB中文", cff=cff)
    info = inspect_element(data)
    assert (info.kind, info.format, info.width, info.height) == ("font", fmt, 0, 0)


@requires_cjk_font
def test_the_system_collection_is_a_font() -> None:
    path = system_cjk_font()
    assert path is not None
    info = inspect_element(path.read_bytes())
    assert info.kind == "font" and info.format in ("ttc", "ttf", "otf")


def test_a_file_with_font_magic_that_is_no_font_is_corrupt() -> None:
    err = refused(b"true" + b"\x00\x07" + b"not really a font" * 20)
    assert (err.status, err.code) == (422, "corrupt_file")


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_a_truncated_font_is_corrupt(keep: float) -> None:
    data = make_font("ABCDEFGHIJ中文字体")
    err = refused(data[: int(len(data) * keep)])
    assert (err.status, err.code) == (422, "corrupt_file")


def test_a_collection_claiming_absurdly_many_faces_is_corrupt() -> None:
    err = refused(b"ttcf\x00\x01\x00\x00\xff\xff\xff\xff" + b"\x00" * 64)
    assert (err.status, err.code) == (422, "corrupt_file")


def test_woff_is_unsupported_by_name() -> None:
    err = refused(b"wOFF" + b"\x00" * 60)
    assert err.status == 415 and "WOFF" in err.message


def test_font_covers_reports_missing_characters_ignoring_whitespace(tmp_path: Path) -> None:
    data = make_font("AB中文")
    assert font_covers(data, "AB 中文\n") == set()
    assert font_covers(data, "ABC 中文字") == {"C", "字"}
    path = tmp_path / "bars.ttf"
    path.write_bytes(data)
    assert font_covers(path, "A字") == {"字"}
    assert font_covers(str(path), "A字") == {"字"}


@requires_cjk_font
def test_the_system_cjk_font_covers_chinese() -> None:
    path = system_cjk_font()
    assert path is not None
    assert font_covers(path, "本月生日会员专享 · 满300减50，错过再等一年！¥…") == set()


def test_system_cjk_font_honours_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    font = tmp_path / "mine.ttf"
    font.write_bytes(make_font("中"))
    monkeypatch.setenv(CJK_FONT_ENV, str(font))
    assert system_cjk_font() == font
    monkeypatch.setenv(CJK_FONT_ENV, str(tmp_path / "absent.ttc"))
    assert system_cjk_font() is None  # set means "this one", not "this one or any"


def test_error_body_has_the_api_shape() -> None:
    err = refused(b"hello")
    assert err.body() == {
        "error": {"status": 415, "code": "unsupported_media_type", "message": err.message}
    }


def test_jpeg_bytes_round_trip_through_decode() -> None:
    data = encoded(product_photo(90), "JPEG")
    im = decode_image(data)
    assert im.mode == "RGBA" and im.size == (90, 90)


def test_font_file_writes_each_content_once_and_repairs_tampering(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(FONT_DIR_ENV, str(tmp_path / "fonts"))
    data = make_font("AB")
    path = font_file(data)
    assert path.read_bytes() == data and path.parent == tmp_path / "fonts"
    assert font_file(data) == path
    assert font_file(make_font("XY")) != path
    path.write_bytes(b"x" * len(data))  # same size, other bytes: rewritten
    assert font_file(data).read_bytes() == data
