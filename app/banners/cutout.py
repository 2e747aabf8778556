"""Cutting a product out of its photo, for photos shot on a plain (white, grey) background.

The background colour is the median of the border pixels (robust to a product touching
an edge). A pixel is background when its colour is within ``tolerance`` of it AND it is
connected to the border through such pixels: a white button in the middle of a shirt is
as white as the backdrop but is enclosed by the shirt, so it stays. The alpha edge is
softened inwards (the product mask blurred by ``feather`` px, kept only inside the
product) so no rim of backdrop colour is left around the product, and the interior stays
fully opaque.

This is not a segmentation model: shadows, gradients and a product of the backdrop's
colour touching the border defeat it. A 1200×1200 photo takes ~100 ms on one core.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage


def background_colour(rgb: np.ndarray) -> np.ndarray:
    """The median colour of the outermost rows and columns of an (H, W, 3) array."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[1:-1, 0], rgb[1:-1, -1]])
    return np.median(border, axis=0)


def background_mask(rgb: np.ndarray, tolerance: float) -> np.ndarray:
    """True where a pixel is backdrop: near the border's colour and connected to the border."""
    bg = background_colour(rgb)
    # Squared Euclidean RGB distance through a 256-entry table per channel: indexing by
    # the uint8 values is several times faster than widening the whole photo to int32.
    levels = np.arange(256, dtype=np.int32)
    dist2 = sum(((levels - round(float(bg[c]))) ** 2)[rgb[..., c]] for c in range(3))
    near = dist2 <= tolerance * tolerance
    # 4-connectivity: backdrop must not leak into the product through a diagonal gap of
    # one pixel in its outline.
    labels, count = ndimage.label(near)
    touches_edge = np.zeros(count + 1, dtype=bool)
    touches_edge[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = True
    touches_edge[0] = False  # label 0 is "not near the background colour"
    return touches_edge[labels]


def cut_out(image: Image.Image, tolerance: int = 24, feather: float = 1.5) -> Image.Image:
    """``image`` as RGBA with its plain background made transparent.

    ``tolerance``: how far (Euclidean distance in RGB, 0–441) a pixel's colour may be from
    the background's to count as background; 24 absorbs JPEG noise and paper grain.
    ``feather``: the Gaussian sigma, in pixels, of the soft edge; 0 gives a hard edge.
    """
    rgba = image.convert("RGBA")
    pixels = np.asarray(rgba)
    if pixels.shape[0] < 3 or pixels.shape[1] < 3:
        return rgba
    product = ~background_mask(pixels[..., :3], float(tolerance))
    alpha = product.astype(np.uint8) * np.uint8(255)
    if feather > 0:
        # Pillow's GaussianBlur (radius = sigma, by extended box blurs) is ~10× faster than
        # scipy's exact one here. The blur lowers alpha only near the product's outline
        # (the interior stays 255); zeroing it outside the mask keeps the backdrop side
        # fully transparent, so no rim of backdrop colour survives.
        blurred = Image.fromarray(alpha, "L").filter(ImageFilter.GaussianBlur(feather))
        alpha = np.asarray(blurred) * product
    alpha = np.minimum(alpha, pixels[..., 3])  # keep the photo's own transparency
    out = pixels.copy()
    out[..., 3] = alpha.astype(np.uint8)
    out[alpha == 0, :3] = 0  # no colour where nothing shows: smaller files, nothing to bleed
    return Image.fromarray(out, "RGBA")
