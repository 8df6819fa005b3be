"""Tests of image decoding."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image, features

from tests.data.fixtures import pattern, write_image
from usb_asd.data.image_io import ImageReadError, load_image


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".TIFF"])
def test_lossless_formats_round_trip_exactly(tmp_path, ext):
    expected = pattern(3, 5, 7)  # non-square catches a height/width swap
    path = write_image(tmp_path / f"img{ext}", expected)
    image = load_image(str(path))
    assert image.dtype == np.uint8 and image.shape == (5, 7, 3)
    np.testing.assert_array_equal(image, expected)
    image[0, 0, 0] = 1  # writable, as torch.from_numpy expects


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_lossless_webp_round_trips(tmp_path):
    expected = pattern(1, 6, 4)
    path = write_image(tmp_path / "img.webp", expected, lossless=True)
    np.testing.assert_array_equal(load_image(path), expected)


def test_jpeg_decodes_close_to_source(tmp_path):
    expected = np.full((8, 8, 3), (200, 40, 90), dtype=np.uint8)
    path = write_image(tmp_path / "img.JPEG", expected, quality=100)
    image = load_image(path)
    assert image.shape == (8, 8, 3)
    assert np.abs(image.astype(int) - expected).max() <= 3


def test_greyscale_source_becomes_rgb_and_back(tmp_path):
    grey = pattern(0, 4, 6, channels=1)
    path = write_image(tmp_path / "grey.png", grey)
    rgb = load_image(path)
    assert rgb.shape == (4, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(rgb[:, :, c], grey[:, :, 0])
    single = load_image(path, channels=1)
    assert single.shape == (4, 6, 1)
    np.testing.assert_array_equal(single, grey)


def test_rgb_to_single_channel_uses_luma(tmp_path):
    path = write_image(tmp_path / "red.png", np.full((2, 2, 3), (255, 0, 0), np.uint8))
    grey = load_image(path, channels=1)
    assert grey.shape == (2, 2, 1)
    assert int(grey[0, 0, 0]) == 76  # ITU-R 601-2 luma of pure red, as PIL computes it


def test_alpha_is_dropped(tmp_path):
    rgba = np.dstack([pattern(2, 3, 3), np.full((3, 3), 17, np.uint8)])
    path = write_image(tmp_path / "alpha.png", rgba)
    np.testing.assert_array_equal(load_image(path), rgba[:, :, :3])


def test_palette_with_transparency_converts_without_warning(tmp_path):
    image = Image.new("P", (2, 2))
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.putpixel((1, 0), 1)
    image.info["transparency"] = 0
    path = tmp_path / "palette.gif"
    image.save(path, transparency=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decoded = load_image(path)
    assert tuple(decoded[0, 1]) == (200, 100, 50)
    assert tuple(decoded[0, 0]) == (10, 20, 30)


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageReadError) as info:
        load_image(str(path))
    assert str(path) in str(info.value) and "cannot decode" in str(info.value)


def test_truncated_file_names_the_file(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = write_image(tmp_path / "cut.png", noise)  # incompressible: ~12 kB
    path.write_bytes(path.read_bytes()[:2000])  # header intact, pixel data cut short
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "absent.png"
    with pytest.raises(ImageReadError) as info:
        load_image(str(path))
    assert str(path) in str(info.value) and "not found" in str(info.value)
    assert isinstance(info.value, OSError)


def test_unsupported_channel_count(tmp_path):
    path = write_image(tmp_path / "img.png", pattern(0, 2, 2))
    with pytest.raises(ValueError, match="channels"):
        load_image(path, channels=4)
