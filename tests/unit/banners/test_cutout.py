"""Product cut-out: the backdrop goes, the white button enclosed by the product stays."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.banners.cutout import background_colour, cut_out
from tests.unit.banners.helpers import assert_golden, product_photo


def alpha_of(im: Image.Image) -> np.ndarray:
    assert im.mode == "RGBA"
    return np.asarray(im)[..., 3]


def test_backdrop_goes_product_and_button_stay() -> None:
    photo = product_photo(600)
    alpha = alpha_of(cut_out(photo))
    for y, x in [(0, 0), (0, 599), (599, 0), (599, 599), (300, 100), (560, 300)]:
        assert alpha[y, x] == 0, (y, x)  # corners and backdrop around the product
    assert alpha[305, 300] == 255  # the white button, as white as the backdrop, is enclosed
    assert alpha[200, 300] == 255 and alpha[450, 200] == 255  # the product's body
    assert (alpha == 255).mean() > 0.3


def test_the_edge_is_soft_inwards() -> None:
    alpha = alpha_of(cut_out(product_photo(600), feather=1.5))
    row = alpha[300, 140:165].astype(int)  # across the left edge of the body (x = 150)
    soft = row[(row > 0) & (row < 255)]
    assert len(soft) >= 2  # a ramp, not a step
    assert list(row) == sorted(row)  # rising from backdrop to product
    assert row[0] == 0 and row[-1] == 255


def test_no_feather_is_a_hard_edge() -> None:
    alpha = alpha_of(cut_out(product_photo(300), feather=0))
    assert set(np.unique(alpha)) <= {0, 255}


def test_the_colours_are_kept() -> None:
    photo = product_photo(300)
    out = np.asarray(cut_out(photo))
    assert (out[150, 150, :3] == np.asarray(photo)[150, 150]).all()


def test_existing_transparency_is_kept() -> None:
    photo = product_photo(200).convert("RGBA")
    photo.putpixel((100, 60), (38, 104, 186, 0))  # a transparent hole in the product
    assert alpha_of(cut_out(photo, feather=0))[60, 100] == 0


def test_background_colour_is_the_border_median() -> None:
    rgb = np.full((50, 50, 3), 240, dtype=np.uint8)
    rgb[0, :10] = (0, 0, 0)  # a product touching the edge does not move the median
    assert tuple(background_colour(rgb)) == (240, 240, 240)


def test_golden_cutout() -> None:
    assert_golden(cut_out(product_photo(240)), "cutout")
