"""image_kind: auto tells glyphs from photographs by reading the images."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from usb_asd.data.image_kind import detect_image_kind, glyph_evidence, is_glyph


def _glyph(text: str, size: int = 28, ink: int = 255, ground: int = 0, rgb: bool = True) -> np.ndarray:
    image = Image.new("L", (size, size), ground)
    ImageDraw.Draw(image).text((size // 4, size // 8), text, fill=ink, font=ImageFont.load_default())
    grey = np.asarray(image)
    return np.repeat(grey[..., None], 3, axis=-1) if rgb else grey


def _photo_patches(count: int, side: int = 48, name: str = "coffee") -> list:
    import skimage.data

    photo = getattr(skimage.data, name)()
    rng = np.random.default_rng(0)
    ys = rng.integers(0, photo.shape[0] - side, size=count)
    xs = rng.integers(0, photo.shape[1] - side, size=count)
    return [photo[y:y + side, x:x + side] for y, x in zip(ys, xs)]


def test_characters_on_a_plain_ground_are_glyphs_either_polarity():
    for text in "A7%":
        assert is_glyph(glyph_evidence(_glyph(text)))
        assert is_glyph(glyph_evidence(_glyph(text, ink=20, ground=235, rgb=False)))  # dark ink on white


def test_photographs_are_not_glyphs_grey_ones_included():
    for patch in _photo_patches(10):
        assert not is_glyph(glyph_evidence(patch))
    for patch in _photo_patches(10, name="camera"):  # a grey photograph
        assert not is_glyph(glyph_evidence(patch))


def test_coloured_drawings_are_not_glyphs_and_flat_images_say_nothing():
    drawing = np.zeros((20, 20, 3), dtype=np.uint8)
    drawing[5:15, 5:15] = (200, 30, 30)
    assert not is_glyph(glyph_evidence(drawing))
    flat = glyph_evidence(np.full((8, 8), 7, dtype=np.uint8))
    assert flat["flat"] == 1.0 and not is_glyph(flat)


def test_a_folder_takes_the_kind_of_most_of_its_images():
    glyphs = [_glyph(c) for c in "0123456789"]
    photos = _photo_patches(10)
    assert detect_image_kind(10, lambda i: glyphs[i]) == "glyph"
    assert detect_image_kind(10, lambda i: photos[i]) == "natural"
    mixed = glyphs[:3] + photos[:7]
    assert detect_image_kind(10, lambda i: mixed[i]) == "natural"
    flats = [np.zeros((4, 4), dtype=np.uint8)] * 3
    assert detect_image_kind(3, lambda i: flats[i]) == "natural"
    with pytest.raises(ValueError, match="no images"):
        detect_image_kind(0, lambda i: None)


def test_the_sample_is_spread_over_the_folder_and_bounded():
    read = []
    detect_image_kind(1000, lambda i: (read.append(i), _glyph("1"))[1], sample_size=20)
    assert len(read) == 20 and read[0] == 0 and read[-1] == 999
