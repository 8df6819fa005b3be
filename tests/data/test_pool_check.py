"""A run's images checked before training (every pixel decoded, bad files named or skipped) and fingerprinted."""

import os
import shutil

import numpy as np
import pytest

from tests.data.fixtures import pattern, write_class_tree, write_image
from usb_asd.data.image_io import ImageReadError
from usb_asd.data.pool_check import (
    check_pixels, describe_change, forget_prepared, pool_fingerprint, prepare_splits, run_splits,
)
from usb_asd.data.splits import ImageSplits


def _cut(path):
    """Keep the header of a PNG, cut its pixel data short (PIL opens it; decoding fails)."""
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    write_image(path, noise)
    path.write_bytes(path.read_bytes()[:2000])


def test_a_truncated_image_is_named_with_how_many_fail(tmp_path):
    write_class_tree(tmp_path, {"a": 3, "b": 3})
    _cut(tmp_path / "b" / "img_1.png")
    _cut(tmp_path / "a" / "img_2.png")
    with pytest.raises(ImageReadError) as info:
        prepare_splits("folder", str(tmp_path), None, skip_bad=False)
    message = str(info.value)
    assert message.startswith(f"cannot decode image '{tmp_path / 'a' / 'img_2.png'}'")
    assert "2 of 6 images cannot be decoded (img_2.png, img_1.png)" in message
    assert "skip_bad_images: True" in message and "\n" not in message


def test_skipping_bad_images_leaves_them_out_of_every_split_and_lists_them(tmp_path):
    write_class_tree(tmp_path / "train", {"a": 2, "b": 2})
    write_class_tree(tmp_path / "test", {"a": 1, "b": 1})
    _cut(tmp_path / "train" / "a" / "img_0.png")
    _cut(tmp_path / "test" / "b" / "img_0.png")
    splits, skipped = prepare_splits("folder", str(tmp_path), None, skip_bad=True)
    assert sorted(skipped) == sorted([str(tmp_path / "train" / "a" / "img_0.png"),
                                      str(tmp_path / "test" / "b" / "img_0.png")])
    assert [os.path.basename(os.path.dirname(p)) for p in splits.train_images] == ["a", "b", "b"]
    np.testing.assert_array_equal(splits.train_targets, [0, 1, 1])
    assert len(splits.test_images) == 1 and list(splits.test_targets) == [0]
    # The run's set_dataset takes the same splits; another process lists again and leaves the same files out.
    assert run_splits("folder", str(tmp_path), None) is splits
    forget_prepared()
    again = run_splits("folder", str(tmp_path), None, skipped)
    assert again.train_images == splits.train_images and again.test_images == splits.test_images


def test_nothing_left_is_an_error_even_when_skipping(tmp_path):
    (tmp_path / "a").mkdir()
    _cut(tmp_path / "a" / "x.png")
    with pytest.raises(ImageReadError, match="none of the 1 images can be decoded"):
        prepare_splits("folder", str(tmp_path), None, skip_bad=True)


def test_the_check_can_be_switched_off(tmp_path):
    write_class_tree(tmp_path, {"a": 1})
    _cut(tmp_path / "a" / "img_0.png")
    splits, skipped = prepare_splits("folder", str(tmp_path), None, skip_bad=False, check=False)
    assert len(splits.train_images) == 1 and skipped == []
    forget_prepared()


def test_arrays_need_no_check():
    splits = ImageSplits("toy", np.zeros((3, 2, 2, 3), np.uint8), np.zeros(3), np.zeros((1, 2, 2, 3), np.uint8),
                         np.zeros(1), 1)
    assert check_pixels(splits, skip_bad=False) == (splits, [])


def test_the_fingerprint_follows_the_files_not_where_the_folder_lies(tmp_path):
    write_class_tree(tmp_path / "one", {"a": 2, "b": 2})
    fingerprint = pool_fingerprint(prepare_splits("folder", str(tmp_path / "one"), None, False)[0], tmp_path / "one")
    assert fingerprint["images"] == 4 and len(fingerprint["digest"]) == 64
    shutil.copytree(tmp_path / "one", tmp_path / "moved")
    moved = pool_fingerprint(prepare_splits("folder", str(tmp_path / "moved"), None, False)[0], tmp_path / "moved")
    assert moved["digest"] == fingerprint["digest"] and describe_change(fingerprint, moved) is None
    write_image(tmp_path / "moved" / "b" / "img_9.png", pattern(9, 4, 4))
    grown = pool_fingerprint(prepare_splits("folder", str(tmp_path / "moved"), None, False)[0], tmp_path / "moved")
    assert describe_change(fingerprint, grown).startswith("4 -> 5 training images")
    (tmp_path / "moved" / "b" / "img_9.png").unlink()
    (tmp_path / "moved" / "b" / "img_1.png").rename(tmp_path / "moved" / "b" / "img_7.png")
    renamed = pool_fingerprint(prepare_splits("folder", str(tmp_path / "moved"), None, False)[0], tmp_path / "moved")
    assert "the same number of images (4) but other files" in describe_change(fingerprint, renamed)
    forget_prepared()


def test_array_fingerprints_hash_the_pixels():
    images = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    splits = ImageSplits("toy", images, np.zeros(2), images[:1], np.zeros(1), 1)
    first = pool_fingerprint(splits)
    changed = images.copy()
    changed[1, 1, 1, 2] += 1
    assert pool_fingerprint(ImageSplits("toy", changed, np.zeros(2), images[:1], np.zeros(1), 1))["digest"] != \
        first["digest"]
    assert pool_fingerprint(ImageSplits("toy", images.copy(), np.zeros(2), images[:1], np.zeros(1), 1)) == first
