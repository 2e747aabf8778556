"""Pictures in boxes: decoded once, fitted (and cut out) once per box, drawn "over".

``contain`` shows the whole picture inside the box, ``cover`` fills the box and crops
what sticks out; ``align`` says which part stays (for cover) or where the picture sits
(for contain). Decoded and fitted pictures are cached by element id (a content address)
and box, with a memory budget, so a banner drawn again costs only the pasting.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from app.banners.cache import LruCache
from app.banners.cutout import cut_out

ImageLoader = Callable[[str], Image.Image]  # element id -> picture; LookupError: gone

_PICTURES: LruCache[Image.Image] = LruCache(max_cost=256 * 1024 * 1024)
_FITTED: LruCache[tuple[Image.Image, tuple[int, int]]] = LruCache(max_cost=128 * 1024 * 1024)


def clear_picture_caches() -> None:
    _PICTURES.clear()
    _FITTED.clear()


_ALIGN: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "top": (0.5, 0.0),
    "bottom": (0.5, 1.0),
    "left": (0.0, 0.5),
    "right": (1.0, 0.5),
    "top_left": (0.0, 0.0),
    "top_right": (1.0, 0.0),
    "bottom_left": (0.0, 1.0),
    "bottom_right": (1.0, 1.0),
}


def _area(im: Image.Image) -> int:
    return im.width * im.height * 4


def _picture(element_id: str, load_image: ImageLoader) -> Image.Image:
    def decoded() -> Image.Image:
        im = load_image(element_id)
        # An opaque photo stays RGB: resizing three channels is a third cheaper than four
        # with premultiplied alpha, and most product shots and backdrops are opaque.
        return im if im.mode in ("RGB", "RGBA") else im.convert("RGBA" if im.has_transparency_data else "RGB")

    return _PICTURES.get_or_make(element_id, decoded, _area)


def fit_picture(
    im: Image.Image, w: int, h: int, fit: str, align: str, cutout: bool = False
) -> tuple[Image.Image, tuple[int, int]]:
    """``im`` scaled into a w×h box (cut out of its backdrop if asked), and where it goes in the box.

    The cut-out runs on the picture at the size it is shown: ~10× cheaper than on a
    camera-sized photo, and the feathered edge is then 1.5 banner pixels wide.
    """
    fx, fy = _ALIGN[align]
    lanczos = Image.Resampling.LANCZOS
    if fit == "cover" and not cutout:
        # resample only the part of the picture that ends up in the box
        scale = max(w / im.width, h / im.height)
        left, top = (im.width * scale - w) * fx / scale, (im.height * scale - h) * fy / scale
        source_box = (left, top, left + w / scale, top + h / scale)
        return im.resize((w, h), lanczos, box=source_box, reducing_gap=3.0), (0, 0)
    if fit == "contain":
        scale = min(w / im.width, h / im.height)
        rw, rh = max(1, round(im.width * scale)), max(1, round(im.height * scale))
    else:
        scale = max(w / im.width, h / im.height)
        rw, rh = max(w, round(im.width * scale)), max(h, round(im.height * scale))
    # Shrinking a camera-sized photo: first by a whole factor with a box filter (cheap),
    # keeping at least 1.5 times the target size, then Lanczos for the last step.
    factor = int(min(im.width / rw, im.height / rh) / 1.5)
    source = im.reduce(factor) if factor >= 2 else im
    out = source.resize((rw, rh), lanczos)
    if cutout:
        out = cut_out(out)  # before any cropping: the backdrop is judged on the photo's own border
    if fit == "contain":
        return out, (round((w - rw) * fx), round((h - rh) * fy))
    left, top = round((rw - w) * fx), round((rh - h) * fy)
    return out.crop((left, top, left + w, top + h)), (0, 0)


def paste_picture(
    canvas: Image.Image,
    element_id: str,
    load_image: ImageLoader,
    box: tuple[int, int, int, int],
    fit: str,
    align: str,
    cutout: bool = False,
) -> None:
    x, y, w, h = box

    def make() -> tuple[Image.Image, tuple[int, int]]:
        fitted, offset = fit_picture(_picture(element_id, load_image), w, h, fit, align, cutout)
        if fitted.mode == "RGBA" and fitted.getchannel("A").getextrema()[0] == 255:
            fitted = fitted.convert("RGB")  # opaque: pasting RGB is a plain copy
        elif fitted.mode != "RGBA":
            fitted = fitted.convert("RGB")
        return fitted, offset

    try:
        fitted, (dx, dy) = _FITTED.get_or_make(
            (element_id, cutout, w, h, fit, align), make, lambda entry: _area(entry[0])
        )
    except LookupError:  # the element is gone (a deleted photo): the banner goes without it
        return
    put(canvas, fitted, (x + dx, y + dy))


def put(canvas: Image.Image, im: Image.Image, at: tuple[int, int]) -> None:
    """Draw ``im`` over the canvas at ``at`` ("over" compositing)."""
    if im.mode == "RGB":
        canvas.paste(im, at)
    elif canvas.mode == "RGB":
        # On an opaque canvas, pasting through the picture's own alpha is exactly "over",
        # and about 3× faster than alpha_composite (which must also keep an alpha channel).
        canvas.paste(im, at, im)
    else:
        canvas.alpha_composite(im, at)
