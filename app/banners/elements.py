"""Uploaded elements (pictures and fonts), judged by their content, never by their name.

:func:`inspect_element` answers what a file is — or refuses it with an
:class:`~app.banners.problems.ElementError` a route can answer as is:

* 413 ``too_large``: more bytes than ``max_bytes``, or more pixels than ``max_pixels``.
  The pixel count is read from the header (``Image.open`` is lazy) before anything is
  decoded, so a decompression bomb — a few KB of zlib that inflate to gigabytes — is
  refused without costing memory;
* 415 ``unsupported_media_type``: not a PNG, JPEG or WebP picture nor a TTF, OTF or TTC
  font (a text file named ``.png`` included);
* 422 ``corrupt_file``: starts like a supported format but does not decode (truncated,
  damaged). Pictures are verified and fully decoded once; fonts are read with fontTools
  (table directory inside the file, ``head``/``maxp``/``cmap`` readable) and loaded and
  drawn with FreeType through Pillow, which is what will draw them later.

Truncated pictures are caught because Pillow refuses to load them by default; a process
that sets ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True`` would weaken that check.

Element ids are content-addressed (``el_`` + 24 hex digits of the SHA-256): the same
bytes get the same id, in every shop, so caches keyed by id can never be stale.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageFont, ImageOps
from pydantic import BaseModel, ConfigDict

from app.banners.fonts import font_codepoints, open_font
from app.banners.problems import ElementError

ElementKind = Literal["image", "font"]
ElementFormat = Literal["png", "jpeg", "webp", "ttf", "otf", "ttc"]


@dataclass(frozen=True)
class ElementLimits:
    """What an upload may weigh.

    ``max_bytes`` (20 MiB) admits a full CJK font (Noto Sans CJK is 19 MB); ``max_pixels``
    (40 million, e.g. 8000×5000) admits any camera photo while bounding the memory of one
    decode to ~160 MB (RGBA).
    """

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000


class ElementInfo(BaseModel):
    """What an uploaded element is; stored next to its bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str  # "el_" + the first 24 hex digits of sha256
    kind: ElementKind
    format: ElementFormat
    width: int  # pixels; 0 for fonts
    height: int
    bytes: int  # size of the file
    sha256: str


_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_FONT_MAGIC = {b"\x00\x01\x00\x00": "ttf", b"true": "ttf", b"OTTO": "otf", b"ttcf": "ttc"}
# Formats people upload that we recognise but do not take, to say so by name.
_UNSUPPORTED_MAGIC = {
    b"GIF8": "GIF",
    b"wOFF": "WOFF",
    b"wOF2": "WOFF2",
    b"%PDF": "PDF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}
_SUPPORTED = "Upload a PNG, JPEG or WebP picture, or a TTF, OTF or TTC font."


def element_id(data: bytes) -> str:
    """The content address of ``data``: same bytes, same id."""
    return "el_" + hashlib.sha256(data).hexdigest()[:24]


def sniff(data: bytes) -> tuple[ElementKind, ElementFormat] | None:
    """Kind and format from the magic bytes, or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image", "webp"
    font_format = _FONT_MAGIC.get(data[:4])
    if font_format is not None:
        return "font", font_format  # type: ignore[return-value]
    return None


def inspect_element(data: bytes, limits: ElementLimits = ElementLimits()) -> ElementInfo:
    """What ``data`` is, or an :class:`ElementError` (413, 415 or 422) saying why not."""
    if len(data) > limits.max_bytes:
        raise ElementError(
            413,
            "too_large",
            f"The file has {len(data):,} bytes; at most {limits.max_bytes:,} are allowed.",
        )
    sniffed = sniff(data)
    if sniffed is None:
        name = next((n for magic, n in _UNSUPPORTED_MAGIC.items() if data.startswith(magic)), None)
        what = (
            f"{name} files are not supported."
            if name
            else "This file is neither a picture nor a font we know."
        )
        raise ElementError(415, "unsupported_media_type", f"{what} {_SUPPORTED}")
    kind, fmt = sniffed
    digest = hashlib.sha256(data).hexdigest()
    eid = "el_" + digest[:24]
    if kind == "image":
        width, height = _check_image(data, fmt, limits)
    else:
        _check_font(data, fmt, eid)
        width = height = 0
    return ElementInfo(
        id=eid, kind=kind, format=fmt, width=width, height=height, bytes=len(data), sha256=digest
    )


def _corrupt(fmt: str, why: object) -> ElementError:
    return ElementError(
        422,
        "corrupt_file",
        f"The file starts like a {fmt.upper()} file but cannot be read ({why}); is it truncated?",
    )


def _check_image(data: bytes, fmt: str, limits: ElementLimits) -> tuple[int, int]:
    pil_format = [_PIL_FORMAT[fmt]]  # only the sniffed decoder: no guessing among plugins
    try:
        # Only the header is read here. Nothing else may touch the image before the pixel
        # check: even getexif() decodes a PNG whole (its EXIF may follow the pixel data).
        with Image.open(io.BytesIO(data), formats=pil_format) as im:
            width, height = im.size
    except Image.DecompressionBombError:
        # Pillow's own guard (twice Image.MAX_IMAGE_PIXELS) fired before ours could.
        raise ElementError(
            413, "too_large", f"The picture has too many pixels; at most {limits.max_pixels:,}."
        ) from None
    except Exception as exc:  # noqa: BLE001 - whatever a damaged header raises, it is the file's fault
        raise _corrupt(fmt, exc) from None
    if width * height > limits.max_pixels:
        raise ElementError(
            413,
            "too_large",
            f"The picture is {width}×{height} = {width * height:,} pixels; "
            f"at most {limits.max_pixels:,} are allowed.",
        )
    try:
        # verify() checks the structure (PNG chunk CRCs) but leaves the image unusable,
        # hence a second open to decode every pixel: truncated data fails there.
        with Image.open(io.BytesIO(data), formats=pil_format) as im:
            im.verify()
        with Image.open(io.BytesIO(data), formats=pil_format) as im:
            im.load()
            orientation = im.getexif().get(0x0112, 1)
    except Exception as exc:  # noqa: BLE001 - decoders raise OSError, SyntaxError, ValueError, …
        raise _corrupt(fmt, exc) from None
    if orientation in (5, 6, 7, 8):  # EXIF rotation by 90°: report the size as shown
        width, height = height, width
    return width, height


def _check_font(data: bytes, fmt: str, element: str) -> None:
    try:
        for number in range(_count_faces(data)):
            font = open_font(data, number)
            try:
                for entry in font.reader.tables.values():
                    if entry.offset + entry.length > len(data):
                        raise ValueError(f"table {entry.tag!r} runs past the end of the file")
                font["head"], font["maxp"]  # decompiling a garbled table raises
            finally:
                font.close()
        # Face 0 is the one drawn: its character map must be readable (and is cached
        # under the element id for the template check that follows an upload), …
        covered = font_codepoints(data, 0, key=element)
        if not covered:
            raise ValueError("no Unicode character map")
        sample = chr(next((cp for cp in (0x41, 0x4E00) if cp in covered), min(covered)))
        # … and FreeType, which draws it later, must open it and rasterize a glyph.
        face = ImageFont.truetype(
            io.BytesIO(data), 16, index=0, layout_engine=ImageFont.Layout.BASIC
        )
        face.getmask(sample)
    except Exception as exc:  # noqa: BLE001 - fontTools and FreeType raise many kinds of errors
        raise _corrupt(fmt, exc) from None


_MAX_FACES = 64  # Noto Sans CJK has 10; a header claiming thousands is a trap, not a font


def _count_faces(data: bytes) -> int:
    if data[:4] != b"ttcf":
        return 1
    if len(data) < 12:
        raise ValueError("collection header is cut short")
    faces = int.from_bytes(data[8:12], "big")
    if not 1 <= faces <= _MAX_FACES:
        raise ValueError(f"collection claims {faces} faces")
    return faces


def decode_image(data: bytes) -> Image.Image:
    """An inspected picture's pixels, upright (EXIF rotation applied), as RGBA."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        upright = ImageOps.exif_transpose(im)
    return upright.convert("RGBA") if upright.mode != "RGBA" else upright
