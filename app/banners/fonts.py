"""Fonts: where the system CJK font is, and which characters a font covers.

A banner must never show tofu (□ for a character the font lacks), so a template is
checked against the character map (cmap) of each font it uses, read with fontTools.
Reading the cmap of Noto Sans CJK (20 MB, 44,810 characters) takes ~150 ms, so the
answer is cached per font file (path with size and mtime, or SHA-256 of the bytes).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Hashable
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont

from app.banners.cache import LruCache

FontSource = bytes | str | os.PathLike[str]

CJK_FONT_ENV = "STOREFRONT_CJK_FONT"
FONT_DIR_ENV = "STOREFRONT_FONT_DIR"  # where uploaded fonts are written for FreeType to map

# Where distributions install a font with the Chinese characters, best first. When the
# environment variable is set, it is the only candidate: a deployment (or a test) can
# pin a font, or set a path that does not exist to run without one.
SYSTEM_CJK_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch noto-fonts-cjk
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora google-noto-sans-cjk-ttc-fonts
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",  # older fonts-noto-cjk splits
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian/Ubuntu fonts-wqy-zenhei
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",  # Fedora/Arch wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian/Ubuntu fonts-wqy-microhei
)

# ~2.5 MB per CJK character map; a handful of fonts per shop.
_CMAPS: LruCache[frozenset[int]] = LruCache(max_cost=64 * 1024 * 1024)
_FACES: LruCache[int] = LruCache(max_cost=256)


def system_cjk_font() -> Path | None:
    """The CJK font of this machine (``$STOREFRONT_CJK_FONT`` first), or None."""
    override = os.environ.get(CJK_FONT_ENV)
    if override:
        path = Path(override)
        return path if path.is_file() else None
    for candidate in SYSTEM_CJK_FONT_CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            return path
    return None


def open_font(source: FontSource, font_number: int = 0) -> TTFont:
    """A lazily read fontTools font; ``font_number`` picks the face of a collection (.ttc)."""
    file: str | io.BytesIO = io.BytesIO(source) if isinstance(source, bytes) else os.fspath(source)
    return TTFont(file, fontNumber=font_number, lazy=True)


def _fingerprint(source: FontSource) -> Hashable:
    if isinstance(source, bytes):
        return ("sha256", hashlib.sha256(source).hexdigest())
    st = os.stat(source)
    return ("file", os.path.realpath(source), st.st_size, st.st_mtime_ns)


def font_codepoints(
    source: FontSource | Callable[[], FontSource],
    font_number: int = 0,
    *,
    key: Hashable | None = None,
) -> frozenset[int]:
    """The code points the font maps to a glyph (cached; ``key`` can name the font cheaply).

    ``source`` may be a function giving the font, called only when the cache misses (it
    needs a ``key`` then): an uploaded font is read from the store once, not per check.
    Raises fontTools' / OS errors for a file that is not a readable font.
    """
    if callable(source) and key is None:
        raise ValueError("a font given as a function needs a key")

    def read() -> frozenset[int]:
        font = open_font(source() if callable(source) else source, font_number)
        try:
            return frozenset((font.getBestCmap() or {}).keys())
        finally:
            font.close()

    cache_key = (key if key is not None else _fingerprint(source), font_number)  # type: ignore[arg-type]
    return _CMAPS.get_or_make(cache_key, read, cost=lambda cps: 56 * len(cps) + 64)


def font_covers(font: FontSource, text: str, font_number: int = 0) -> set[str]:
    """The characters of ``text`` the font has no glyph for (whitespace ignored).

    An empty set means the text renders without tofu. For a collection (.ttc) the face
    ``font_number`` (default the first) is read; the faces of a CJK collection share
    their character set.
    """
    cps = font_codepoints(font, font_number)
    return {ch for ch in text if not ch.isspace() and ord(ch) not in cps}


def preferred_face(path: str | os.PathLike[str], family_suffix: str = " SC") -> int:
    """The face of a collection to draw Chinese with: the first whose family ends with " SC".

    Noto Sans CJK puts the Japanese face first; its forms of some characters (骨, 直, 门)
    differ from the Simplified Chinese ones a Chinese shopper expects. Plain fonts and
    collections without such a face answer 0. Cached per file.
    """

    def find() -> int:
        with open(path, "rb") as f:
            if f.read(4) != b"ttcf":
                return 0
        collection = TTCollection(os.fspath(path), lazy=True)
        try:
            for i, face in enumerate(collection.fonts):
                family = face["name"].getDebugName(1) or ""
                if family.endswith(family_suffix):
                    return i
            return 0
        finally:
            collection.close()

    return _FACES.get_or_make((_fingerprint(path), family_suffix), find)


_dir_lock = threading.Lock()
_private_dir: Path | None = None


def _font_dir() -> Path:
    """A directory only this user can write to (a shared /tmp must not feed us fonts)."""
    global _private_dir
    with _dir_lock:
        configured = os.environ.get(FONT_DIR_ENV)
        folder = (
            Path(configured)
            if configured
            else Path(tempfile.gettempdir()) / f"storefront-fonts-{os.getuid()}"
        )
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.lstat()
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022:
            return folder
        if _private_dir is None:  # someone else's directory: use one of our own
            _private_dir = Path(tempfile.mkdtemp(prefix="storefront-fonts-"))
        return _private_dir


def font_file(data: bytes) -> Path:
    """A file holding the font ``data``, written once per content, for FreeType to open.

    Pillow copies a font given as bytes into every face it opens — one per size, so 20 MB
    per size of a CJK font. Opened from a file, FreeType maps it instead: the pages are
    shared by every size (and every process), and a face costs ~1 MB.
    """
    digest = hashlib.sha256(data).hexdigest()
    folder = _font_dir()
    path = folder / f"{digest[:40]}.font"
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return path
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
    return path


def clear_font_caches() -> None:
    """Forget cached character maps and faces (tests that swap fonts under one path)."""
    _CMAPS.clear()
    _FACES.clear()
