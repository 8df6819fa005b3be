"""Tests of the STL-10 binary reader."""

from __future__ import annotations

import numpy as np
import pytest

from tests.data.fixtures import STL10_NAMES, write_stl10
from usb_asd.data.splits import DatasetFormatError
from usb_asd.data.stl10 import IMAGE_BYTES, load_stl10


def test_stl10_round_trips_pixels_and_shifts_labels(tmp_path):
    built = write_stl10(tmp_path, n_train=3, n_test=2)
    splits = load_stl10(str(tmp_path))

    assert splits.name == "stl10"
    assert splits.train_images.dtype == np.uint8
    assert splits.train_images.shape == (3, 96, 96, 3)
    assert splits.test_images.shape == (2, 96, 96, 3)
    np.testing.assert_array_equal(splits.train_images, built["train_images"])
    np.testing.assert_array_equal(splits.test_images, built["test_images"])
    # Labels are 1..10 on disk and 0..9 in memory.
    np.testing.assert_array_equal(splits.train_targets, built["train_labels"].astype(int) - 1)
    np.testing.assert_array_equal(splits.test_targets, built["test_labels"].astype(int) - 1)
    assert splits.train_targets[0] == 9 and splits.train_targets.dtype == np.int64
    assert splits.num_classes == 10
    assert splits.class_names == STL10_NAMES
    assert splits.extra_train_images is None  # not asked for


def test_stl10_images_come_back_upright(tmp_path):
    built = write_stl10(tmp_path, n_train=1, n_test=1, n_unlabeled=None)
    image = load_stl10(str(tmp_path)).train_images[0]
    # The distinct top-left pixel written by the fixture comes back at [0, 0] ...
    assert tuple(image[0, 0]) == (255, 0, 128)
    # ... and the rest is not transposed or flipped: row and column differ in the pattern.
    expected = built["train_images"][0]
    assert image[0, 95, 0] == expected[0, 95, 0] != expected[95, 0, 0]
    assert image[95, 0, 1] == expected[95, 0, 1]
    assert image[10, 60, 2] == expected[10, 60, 2]


def test_stl10_raw_byte_order_is_column_major(tmp_path):
    # Build test_X.bin by hand from the documented format: per channel, column-major.
    built = write_stl10(tmp_path, n_train=1, n_test=1, n_unlabeled=None)
    raw = np.zeros(IMAGE_BYTES, dtype=np.uint8)
    raw[0] = 200                   # channel 0, row 0, col 0
    raw[1] = 201                   # channel 0, row 1, col 0 (rows vary fastest)
    raw[96] = 202                  # channel 0, row 0, col 1
    raw[96 * 96 + 5] = 203         # channel 1, row 5, col 0
    raw[2 * 96 * 96 + 96 * 7] = 204  # channel 2, row 0, col 7
    (built["dir"] / "test_X.bin").write_bytes(raw.tobytes())
    image = load_stl10(str(tmp_path)).test_images[0]
    assert image[0, 0, 0] == 200
    assert image[1, 0, 0] == 201
    assert image[0, 1, 0] == 202
    assert image[5, 0, 1] == 203
    assert image[0, 7, 2] == 204
    assert int(image.sum()) == 200 + 201 + 202 + 203 + 204


def test_stl10_unlabeled_is_memory_mapped(tmp_path):
    built = write_stl10(tmp_path, n_train=2, n_test=1, n_unlabeled=3)
    splits = load_stl10(str(built["dir"]), include_unlabeled=True)  # the release folder itself
    extra = splits.extra_train_images
    assert extra.shape == (3, 96, 96, 3) and extra.dtype == np.uint8
    # Still a memory map (the USB wrapper relies on that to index it lazily).
    assert isinstance(extra, np.memmap)
    np.testing.assert_array_equal(np.asarray(extra[2]), built["unlabeled_images"][2])
    np.testing.assert_array_equal(np.asarray(extra), built["unlabeled_images"])


def test_stl10_unlabeled_missing_when_requested(tmp_path):
    built = write_stl10(tmp_path, n_unlabeled=None)
    assert load_stl10(str(tmp_path)).extra_train_images is None  # fine when not asked
    with pytest.raises(DatasetFormatError) as info:
        load_stl10(str(tmp_path), include_unlabeled=True)
    message = str(info.value)
    assert "stl10" in message and str(built["dir"] / "unlabeled_X.bin") in message
    assert "missing" in message and "stl10_binary" in message


def test_stl10_without_class_names(tmp_path):
    write_stl10(tmp_path, with_names=False)
    assert load_stl10(str(tmp_path)).class_names is None


def test_stl10_missing_directory(tmp_path):
    with pytest.raises(DatasetFormatError) as info:
        load_stl10(str(tmp_path / "absent"))
    message = str(info.value)
    assert "stl10" in message and str(tmp_path / "absent") in message
    assert "train_X.bin" in message and "does not exist" in message


def test_stl10_directory_without_release(tmp_path):
    with pytest.raises(DatasetFormatError) as info:
        load_stl10(str(tmp_path))
    message = str(info.value)
    assert "stl10" in message and str(tmp_path) in message and "stl10_binary" in message


@pytest.mark.parametrize("name", ["test_X.bin", "test_y.bin", "train_y.bin"])
def test_stl10_missing_file(tmp_path, name):
    built = write_stl10(tmp_path)
    (built["dir"] / name).unlink()
    with pytest.raises(DatasetFormatError) as info:
        load_stl10(str(tmp_path))
    message = str(info.value)
    assert "stl10" in message and str(built["dir"] / name) in message
    assert "missing" in message and "train_X.bin" in message


def test_stl10_size_not_a_multiple_of_an_image(tmp_path):
    built = write_stl10(tmp_path)
    path = built["dir"] / "train_X.bin"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DatasetFormatError) as info:
        load_stl10(str(tmp_path))
    message = str(info.value)
    assert "stl10" in message and str(path) in message
    assert str(IMAGE_BYTES) in message and "stl10_binary" in message


def test_stl10_unlabeled_bad_size(tmp_path):
    built = write_stl10(tmp_path, n_unlabeled=1)
    path = built["dir"] / "unlabeled_X.bin"
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(DatasetFormatError, match="multiple of 27648"):
        load_stl10(str(tmp_path), include_unlabeled=True)


def test_stl10_label_count_mismatch(tmp_path):
    built = write_stl10(tmp_path, n_train=3)
    path = built["dir"] / "train_y.bin"
    path.write_bytes(b"\x01\x02")
    with pytest.raises(DatasetFormatError) as info:
        load_stl10(str(tmp_path))
    message = str(info.value)
    assert str(path) in message and "2 labels" in message and "3 images" in message


def test_stl10_label_out_of_range(tmp_path):
    built = write_stl10(tmp_path, n_test=2)
    (built["dir"] / "test_y.bin").write_bytes(b"\x00\x05")  # 0 is not a valid 1-based label
    with pytest.raises(DatasetFormatError, match="1..10"):
        load_stl10(str(tmp_path))
