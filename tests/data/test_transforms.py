"""Augmentation policies: shapes, normalisation, and no flips for glyphs."""

import numpy as np
import pytest
import torch
from PIL import Image

import usb_asd  # noqa: F401
from usb_asd.data.transforms import build_augmentations


def _asymmetric_image():
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    img[:, :2] = 255  # a bar on the left edge only
    return Image.fromarray(img)


@pytest.mark.parametrize("kind", ["natural", "glyph"])
def test_outputs_have_the_network_shape(kind):
    aug = build_augmentations(kind, 16, 0.875, (0.5,) * 3, (0.5,) * 3)
    for pipeline in (aug.weak, aug.strong, aug.eval):
        out = pipeline(_asymmetric_image())
        assert isinstance(out, torch.Tensor) and out.shape == (3, 16, 16)


def test_eval_is_deterministic_and_normalised():
    aug = build_augmentations("glyph", 8, 0.875, (0.5,) * 3, (0.25,) * 3)
    a, b = aug.eval(_asymmetric_image()), aug.eval(_asymmetric_image())
    assert torch.equal(a, b)
    assert a[0, 0, 0].item() == pytest.approx((1.0 - 0.5) / 0.25)
    assert a[0, 0, 7].item() == pytest.approx((0.0 - 0.5) / 0.25)


def test_glyph_weak_never_flips():
    torch.manual_seed(0)
    aug = build_augmentations("glyph", 8, 0.875, (0.0,) * 3, (1.0,) * 3)
    for _ in range(50):
        out = aug.weak(_asymmetric_image())
        # The bar may shift by the one-pixel padding but stays on the left half.
        assert out[0, :, :4].sum() > out[0, :, 4:].sum()


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="image kind"):
        build_augmentations("audio", 8, 0.875, (0.5,), (0.5,))
