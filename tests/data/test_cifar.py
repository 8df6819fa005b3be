"""Tests of the CIFAR-10 and CIFAR-100-20 pickle readers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tests.data.fixtures import (
    CIFAR10_NAMES,
    CIFAR100_COARSE_NAMES,
    pattern,
    write_cifar10,
    write_cifar100,
)
from usb_asd.data.cifar import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    load_cifar10,
    load_cifar100_20,
)
from usb_asd.data.splits import DatasetFormatError


def test_cifar10_round_trips_pixels_targets_and_names(tmp_path):
    built = write_cifar10(tmp_path, per_batch=2, n_test=3)
    splits = load_cifar10(str(tmp_path))

    assert splits.name == "cifar10"
    assert splits.train_images.dtype == np.uint8
    assert splits.train_images.shape == (10, 32, 32, 3)
    assert splits.test_images.shape == (3, 32, 32, 3)
    # Batches are concatenated in order data_batch_1..5, images and labels together.
    np.testing.assert_array_equal(splits.train_images, built["train_images"])
    np.testing.assert_array_equal(splits.test_images, built["test_images"])
    assert splits.train_targets.dtype == np.int64
    np.testing.assert_array_equal(splits.train_targets, built["train_targets"])
    np.testing.assert_array_equal(splits.test_targets, built["test_targets"])
    assert splits.num_classes == 10
    assert splits.class_names == CIFAR10_NAMES
    assert tuple(splits.mean) == CIFAR10_MEAN == (0.4914, 0.4822, 0.4465)
    assert tuple(splits.std) == CIFAR10_STD == (0.2470, 0.2435, 0.2616)
    assert splits.extra_train_images is None


def test_cifar10_decodes_channel_major_rows_at_exact_positions(tmp_path):
    # Hand-made row: R plane first, each plane row-major; check bytes land where they must.
    row = np.zeros(3072, dtype=np.uint8)
    row[0] = 11          # R of (row 0, col 0)
    row[1] = 22          # R of (row 0, col 1)
    row[32] = 33         # R of (row 1, col 0)
    row[1024] = 44       # G of (0, 0)
    row[2048 + 31] = 55  # B of (0, 31)
    row[1023] = 66       # R of (31, 31)
    built = write_cifar10(tmp_path, per_batch=1, n_test=1)
    with open(built["dir"] / "test_batch", "wb") as handle:
        pickle.dump({b"data": row[None, :], b"labels": [4]}, handle)

    image = load_cifar10(str(tmp_path)).test_images[0]
    assert image[0, 0, 0] == 11
    assert image[0, 1, 0] == 22
    assert image[1, 0, 0] == 33
    assert image[0, 0, 1] == 44
    assert image[0, 31, 2] == 55
    assert image[31, 31, 0] == 66
    assert int(image.sum()) == 11 + 22 + 33 + 44 + 55 + 66


def test_cifar10_accepts_release_folder_and_str_keys(tmp_path):
    built = write_cifar10(tmp_path, per_batch=1, n_test=2, str_keys=True)
    splits = load_cifar10(str(built["dir"]))  # the release folder itself
    np.testing.assert_array_equal(splits.test_images, built["test_images"])
    np.testing.assert_array_equal(splits.train_targets, built["train_targets"])
    assert splits.class_names == CIFAR10_NAMES


def test_cifar10_without_meta_has_no_names(tmp_path):
    write_cifar10(tmp_path, per_batch=1, n_test=1, with_meta=False)
    assert load_cifar10(tmp_path).class_names is None


def test_cifar10_missing_directory(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DatasetFormatError) as info:
        load_cifar10(str(missing))
    message = str(info.value)
    assert "cifar10" in message and str(missing) in message
    assert "cifar-10-batches-py" in message and "does not exist" in message


def test_cifar10_directory_without_release(tmp_path):
    with pytest.raises(DatasetFormatError) as info:
        load_cifar10(str(tmp_path))
    message = str(info.value)
    assert "cifar10" in message and str(tmp_path) in message and "data_batch_1" in message


def test_cifar10_missing_batch_file(tmp_path):
    built = write_cifar10(tmp_path, per_batch=1, n_test=1)
    (built["dir"] / "data_batch_4").unlink()
    with pytest.raises(DatasetFormatError) as info:
        load_cifar10(str(tmp_path))
    message = str(info.value)
    assert "cifar10" in message
    assert str(built["dir"] / "data_batch_4") in message
    assert "missing" in message and "data_batch_1..data_batch_5" in message


def test_cifar10_malformed_data_shape(tmp_path):
    built = write_cifar10(tmp_path, per_batch=1, n_test=1)
    path = built["dir"] / "data_batch_2"
    with open(path, "wb") as handle:
        pickle.dump({b"data": np.zeros((1, 3000), np.uint8), b"labels": [0]}, handle)
    with pytest.raises(DatasetFormatError) as info:
        load_cifar10(str(tmp_path))
    message = str(info.value)
    assert "cifar10" in message and str(path) in message and "3072" in message
    assert "test_batch" in message  # the expected layout


def test_cifar10_label_count_mismatch(tmp_path):
    built = write_cifar10(tmp_path, per_batch=1, n_test=1)
    path = built["dir"] / "test_batch"
    with open(path, "wb") as handle:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, handle)
    with pytest.raises(DatasetFormatError, match="2 images but 1"):
        load_cifar10(str(tmp_path))


def test_cifar10_not_a_pickle(tmp_path):
    built = write_cifar10(tmp_path, per_batch=1, n_test=1)
    path = built["dir"] / "data_batch_1"
    path.write_bytes(b"this is not a pickle")
    with pytest.raises(DatasetFormatError) as info:
        load_cifar10(str(tmp_path))
    assert str(path) in str(info.value) and "pickle" in str(info.value)


def test_cifar100_20_uses_coarse_labels(tmp_path):
    built = write_cifar100(tmp_path, n_train=6, n_test=4)
    splits = load_cifar100_20(str(tmp_path))

    assert splits.name == "cifar100_20"
    assert splits.num_classes == 20
    np.testing.assert_array_equal(splits.train_targets, built["train_coarse"])
    np.testing.assert_array_equal(splits.test_targets, built["test_coarse"])
    assert not np.array_equal(splits.train_targets, built["train_fine"])
    assert splits.train_targets.max() < 20
    np.testing.assert_array_equal(splits.train_images, built["train_images"])
    np.testing.assert_array_equal(splits.test_images[1], pattern(51, 32, 32))
    assert splits.class_names == CIFAR100_COARSE_NAMES
    assert tuple(splits.mean) == CIFAR100_MEAN == (0.5071, 0.4865, 0.4409)
    assert tuple(splits.std) == CIFAR100_STD == (0.2673, 0.2564, 0.2762)


def test_cifar100_20_accepts_release_folder(tmp_path):
    built = write_cifar100(tmp_path, with_meta=False)
    splits = load_cifar100_20(str(built["dir"]))
    np.testing.assert_array_equal(splits.test_targets, built["test_coarse"])
    assert splits.class_names is None


def test_cifar100_20_missing_test_file(tmp_path):
    built = write_cifar100(tmp_path)
    (built["dir"] / "test").unlink()
    with pytest.raises(DatasetFormatError) as info:
        load_cifar100_20(str(tmp_path))
    message = str(info.value)
    assert "cifar100_20" in message and str(built["dir"] / "test") in message
    assert "cifar-100-python" in message


def test_cifar100_20_missing_directory(tmp_path):
    with pytest.raises(DatasetFormatError) as info:
        load_cifar100_20(str(tmp_path / "absent"))
    message = str(info.value)
    assert "cifar100_20" in message and str(tmp_path / "absent") in message
    assert "cifar-100-python" in message


def test_cifar100_20_without_coarse_labels(tmp_path):
    built = write_cifar100(tmp_path)
    path = built["dir"] / "train"
    with open(path, "wb") as handle:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"fine_labels": [3]}, handle)
    with pytest.raises(DatasetFormatError) as info:
        load_cifar100_20(str(tmp_path))
    assert "coarse_labels" in str(info.value) and str(path) in str(info.value)


def test_cifar100_20_coarse_label_out_of_range(tmp_path):
    built = write_cifar100(tmp_path)
    with open(built["dir"] / "test", "wb") as handle:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"coarse_labels": [20]}, handle)
    with pytest.raises(DatasetFormatError, match="0..19"):
        load_cifar100_20(str(tmp_path))
