"""The bundled digits: real data, fixed stratified split, faithful pixels."""

import numpy as np
from sklearn.datasets import load_digits as sk_digits

from usb_asd.data.digits import load_digits


def test_split_sizes_stratified_and_fixed():
    a, b = load_digits(), load_digits()
    assert len(a.train_images) == 1437 and len(a.test_images) == 360
    np.testing.assert_array_equal(a.train_targets, b.train_targets)
    np.testing.assert_array_equal(a.test_images, b.test_images)
    counts = np.bincount(a.test_targets, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # 20% of 174..183 per class


def test_pixels_are_the_sklearn_images_scaled_to_uint8():
    bunch = sk_digits()
    splits = load_digits()
    assert splits.train_images.dtype == np.uint8 and splits.train_images.shape[1:] == (8, 8, 3)
    # Every image of the union is a scaled sklearn image, channels identical.
    union = np.concatenate([splits.train_images, splits.test_images])[..., 0].astype(int)
    expected = np.rint(bunch.images * 255 / 16).astype(int)
    assert sorted(map(bytes, union.astype(np.uint8))) == sorted(map(bytes, expected.astype(np.uint8)))
    assert np.all(splits.train_images[..., 0] == splits.train_images[..., 2])
    assert splits.has_train_labels and splits.has_test_labels
