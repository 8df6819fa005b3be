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


def test_transparency_is_composited_over_white(tmp_path):
    # What a viewer shows: opaque pixels as they are, transparent ones as the white page behind them.
    rgb = pattern(2, 3, 3)
    alpha = np.full((3, 3), 255, np.uint8)
    alpha[0, :] = 0
    alpha[1, :] = 128
    path = write_image(tmp_path / "alpha.png", np.dstack([rgb, alpha]))
    decoded = load_image(path).astype(int)
    np.testing.assert_array_equal(decoded[2], rgb[2])
    np.testing.assert_array_equal(decoded[0], np.full((3, 3), 255))
    half = (rgb[1].astype(int) * 128 + 255 * 127) / 255
    assert np.abs(decoded[1] - half).max() <= 1


def test_palette_with_transparency_converts_without_warning_and_shows_the_background(tmp_path):
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
    assert tuple(decoded[0, 0]) == (255, 255, 255)  # the transparent entry shows the white background


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


# ---- images that decode to what they show (docs/RELIABILITY.md, "What happens when ...") ----

def _ramp(dtype, top):
    """A horizontal ramp from 0 to ``top`` over 256 columns, 4 rows."""
    return np.tile(np.linspace(0, top, 256), (4, 1)).astype(dtype)


def test_16_bit_greyscale_is_scaled_by_its_bit_depth_not_clipped(tmp_path):
    path = tmp_path / "ramp16.png"
    Image.fromarray(_ramp(np.uint16, 65535)).save(path)
    assert Image.open(path).mode == "I;16"
    decoded = load_image(path)
    assert decoded.mean() == pytest.approx(127.5, abs=0.5)  # convert("L") clipped this to a mean of 247
    assert decoded[0, 0, 0] == 0 and decoded[0, -1, 0] == 255
    np.testing.assert_array_equal(load_image(path, channels=1)[:, :, 0], decoded[:, :, 0])
    # The same levels from a 16-bit TIFF and from a PGM whose maxval is 4095 (12-bit data).
    Image.fromarray(_ramp(np.uint16, 65535)).save(tmp_path / "ramp16.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "ramp16.tif"), decoded)
    pgm = tmp_path / "ramp12.pgm"
    pgm.write_bytes(b"P5 4 1 4095\n" + np.array([0, 1000, 2048, 4095], dtype=">u2").tobytes())
    assert list(load_image(pgm)[0, :, 0]) == [0, 62, 128, 255]


def test_32_bit_integer_greyscale_is_scaled_by_its_own_range(tmp_path):
    path = tmp_path / "ramp32.tif"
    Image.fromarray(_ramp(np.int32, 65535) * 1000 + 7).save(path)
    assert Image.open(path).mode == "I"
    decoded = load_image(path)
    assert decoded[0, 0, 0] == 0 and decoded[0, -1, 0] == 255
    assert decoded.mean() == pytest.approx(127.5, abs=0.5)
    flat = tmp_path / "flat32.tif"
    Image.fromarray(np.full((3, 3), 12345, np.int32)).save(flat)
    assert load_image(flat).max() == 0


def test_float_images_in_0_1_are_intensities_other_ranges_their_own_range(tmp_path):
    unit = tmp_path / "unit.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32)).save(unit)
    assert list(load_image(unit)[0, :, 0]) == [0, 128, 255]
    dim = tmp_path / "dim.tif"
    Image.fromarray(np.array([[0.0, 0.1, 0.2]], np.float32)).save(dim)
    assert list(load_image(dim)[0, :, 0]) == [0, 26, 51]  # not stretched: [0, 1] is the scale
    depth = tmp_path / "metres.tif"
    Image.fromarray(np.array([[-2.0, 3.0, 8.0]], np.float32)).save(depth)
    assert list(load_image(depth)[0, :, 0]) == [0, 128, 255]
    bad = tmp_path / "nan.tif"
    Image.fromarray(np.array([[0.0, np.nan]], np.float32)).save(bad)
    with pytest.raises(ImageReadError, match=r"nan\.tif.*NaN or infinite"):
        load_image(bad)


def test_cmyk_is_converted_to_rgb(tmp_path):
    path = tmp_path / "cmyk.tif"
    Image.new("CMYK", (2, 2), (0, 255, 255, 0)).save(path)
    assert tuple(load_image(path)[0, 0]) == (255, 0, 0)


def test_exif_orientation_is_applied(tmp_path):
    # Stored 4 wide and 2 high with "rotate 90 degrees clockwise to view": shown 2 wide and 4 high.
    stored = np.zeros((2, 4, 3), np.uint8)
    stored[:, 0] = 255  # the left column of the stored image is white
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.png"
    image.save(path, exif=exif)
    decoded = load_image(path)
    assert decoded.shape == (4, 2, 3)
    assert decoded[0].min() == 255 and decoded[1:].max() == 0  # the white column is now the top row


def test_greyscale_with_alpha_is_composited_too(tmp_path):
    grey_alpha = Image.fromarray(np.array([[[40, 0], [40, 255]]], np.uint8), mode="LA")
    path = tmp_path / "la.png"
    grey_alpha.save(path)
    assert list(load_image(path, channels=1)[0, :, 0]) == [255, 40]


def test_check_images_lists_every_bad_file_in_order_in_one_or_several_processes(tmp_path):
    from usb_asd.data.image_io import check_images

    good = write_image(tmp_path / "good.png", pattern(1, 4, 4))
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    cut = write_image(tmp_path / "cut.png", noise)
    cut.write_bytes(cut.read_bytes()[:2000])  # a header that parses, pixel data cut short
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    paths = [str(good), str(cut), str(good), str(junk)] * 3
    for workers in (1, 2):
        bad = check_images(paths, workers=workers)
        assert [p for p, _ in bad] == [str(cut), str(junk)] * 3
        assert "cannot decode image" in bad[0][1] and str(cut) in bad[0][1]
