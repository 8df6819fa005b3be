"""Domain adaptation datasets: source -> labelled batch, target -> unlabelled batch and evaluation."""

import dataclasses

import numpy as np
import pytest
import torch

import usb_asd  # noqa: F401
from usb_asd.data.digits import load_digits, load_digits_restyled, restyle_digit_images
from usb_asd.data.registry import load_splits
from usb_asd.data.usb_datasets import build_domain_adaptation_datasets, build_usb_datasets


def test_restyling_thickens_then_inverts():
    img = np.zeros((1, 8, 8))
    img[0, 3, 4] = 16.0
    out = restyle_digit_images(img)
    # The pixel spreads to its upper, left and upper-left neighbours (each takes the max of
    # itself and its right, lower, lower-right neighbours), then 16 - v inverts.
    lit = {(2, 3), (2, 4), (3, 3), (3, 4)}
    for r in range(8):
        for c in range(8):
            assert out[0, r, c] == (0.0 if (r, c) in lit else 16.0)


def test_restyled_control_is_unpaired_with_its_source_half():
    """Source digits_half_a and target digits_restyled come from disjoint halves of digits' training split."""
    from usb_asd.data.digits import digits_training_halves, load_digits_half_a

    plain, half_a, restyled = load_digits(), load_digits_half_a(), load_digits_restyled()
    a, b = digits_training_halves(plain.train_targets)
    assert len(np.intersect1d(a, b)) == 0 and len(a) + len(b) == len(plain.train_targets)
    assert np.array_equal(half_a.train_images, plain.train_images[a])
    assert np.array_equal(restyled.train_targets, plain.train_targets[b])
    assert np.bincount(half_a.train_targets).min() >= 70 and np.bincount(restyled.train_targets).min() >= 69
    # Every restyled training image is a half-b image, 2x2 max-filtered and inverted (up to rounding).
    p = np.pad(plain.train_images[b][..., 0].astype(int), ((0, 0), (0, 1), (0, 1)))
    thick = np.maximum.reduce([p[:, :-1, :-1], p[:, 1:, :-1], p[:, :-1, 1:], p[:, 1:, 1:]])
    assert np.abs(restyled.train_images[..., 0].astype(int) - (255 - thick)).max() <= 1
    # The test split: all digits test images, restyled, with their labels.
    assert np.array_equal(restyled.test_targets, plain.test_targets) and len(restyled.test_targets) == 360
    assert load_splits("digits_restyled", "").name == "digits_restyled"
    assert load_splits("digits_half_a", "").name == "digits_half_a"


def test_source_labels_target_unlabelled_and_evaluation():
    source, target = load_digits(), load_digits_restyled()
    d = build_domain_adaptation_datasets(source, target, "fixmatch", "glyph", 8, 0.875, num_labels=-1, seed=0)
    assert len(d["train_lb"]) == len(source.train_targets)
    assert np.array_equal(np.asarray(d["train_ulb"].data), target.train_images) and len(d["train_ulb"]) == 719
    assert np.array_equal(np.asarray(d["eval"].data), target.test_images)
    assert np.array_equal(d["eval"].targets, target.test_targets)
    # One input pipeline: the target is normalised with the source's statistics.
    ref = build_usb_datasets(source, "fixmatch", "glyph", 8, 0.875, num_labels=0, seed=0)["eval"]
    own = build_usb_datasets(target, "fixmatch", "glyph", 8, 0.875, num_labels=0, seed=0)["eval"]
    x_da = d["eval"][0]["x_lb"]
    ref.data, own.data = target.test_images, target.test_images
    assert torch.allclose(x_da, ref[0]["x_lb"]) and not torch.allclose(x_da, own[0]["x_lb"])


def test_mismatched_domains_and_unlabelled_source_fail_clearly():
    source, target = load_digits(), load_digits_restyled()
    fewer = dataclasses.replace(
        target, num_classes=9,
        train_targets=np.minimum(target.train_targets, 8), test_targets=np.minimum(target.test_targets, 8),
        class_names=target.class_names[:9],
    )
    with pytest.raises(ValueError, match="same classes"):
        build_domain_adaptation_datasets(source, fewer, "fixmatch", "glyph", 8, 0.875, num_labels=-1, seed=0)
    with pytest.raises(ValueError, match="num_labels is 0"):
        build_domain_adaptation_datasets(source, target, "fixmatch", "glyph", 8, 0.875, num_labels=0, seed=0)


@pytest.mark.parametrize("source_name,target_name", [("mnist5k", "digits"), ("digits", "mnist5k")])
def test_real_pair_reaches_the_net_on_one_scale_polarity_and_size(source_name, target_name):
    """mnist5k (0..255, 28x28) and digits (0..16, 8x8) meet the net alike: the same size, three equal
    grey channels, the same value for black, ink brighter than the ground, the full 0..255 range."""
    source, target = load_splits(source_name, ""), load_splits(target_name, "")
    for splits in (source, target):  # both loaders store uint8 with the ink at the top of the range
        assert splits.train_images.dtype == np.uint8 and splits.train_images.max() == 255
        assert splits.train_images.min() == 0
    d = build_domain_adaptation_datasets(source, target, "pseudolabel", "glyph", 16, 0.875, num_labels=-1, seed=0)
    black = -source.mean[0] / source.std[0]  # a 0 pixel, normalised with the source's statistics
    white = (1 - source.mean[0]) / source.std[0]
    batches = {
        "source": torch.stack([d["train_lb"][i]["x_lb"] for i in range(8)]),
        "target": torch.stack([d["train_ulb"][i]["x_ulb_w"] for i in range(8)]),
        "target test": torch.stack([d["eval"][i]["x_lb"] for i in range(8)]),
    }
    for name, x in batches.items():
        assert x.shape == (8, 3, 16, 16), name
        assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2]), name
        assert x.min().item() == pytest.approx(black, abs=1e-5), name  # the ground is black on both sides
        assert x.max().item() > black + 0.7 * (white - black), name  # and the ink bright
        # polarity: the border (ground) is darker than the centre (ink) on average
        border = torch.cat([x[..., 0, :].flatten(), x[..., -1, :].flatten()]).mean()
        assert border < x[..., 5:11, 5:11].mean(), name
