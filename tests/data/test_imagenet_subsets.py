"""Tests of the ImageNet-10 / ImageNet-Dogs folder readers."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.data.fixtures import relpaths, write_imagenet_folders
from usb_asd.data.imagenet_subsets import (
    IMAGENET10_WNIDS,
    IMAGENET_DOGS_WNIDS,
    load_imagenet10,
    load_imagenet_dogs,
)
from usb_asd.data.splits import DatasetFormatError

# Real ILSVRC wnids that belong to neither subset.
OTHER_WNIDS = ["n01440764", "n01443537"]


def test_imagenet10_selects_subset_from_full_train_dir(tmp_path):
    write_imagenet_folders(tmp_path / "train", IMAGENET10_WNIDS + OTHER_WNIDS, per_class=2)
    splits = load_imagenet10(str(tmp_path))

    assert splits.name == "imagenet10"
    assert splits.num_classes == 10
    assert len(splits.train_images) == 20
    assert isinstance(splits.train_images, list)
    assert splits.train_images == sorted(splits.train_images)
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in splits.train_images)
    # Extra wnids are ignored.
    assert not any(w in p for p in splits.train_images for w in OTHER_WNIDS)
    # Each target is the index of the image's wnid in the constant list.
    for path, target in zip(splits.train_images, splits.train_targets):
        assert os.path.basename(os.path.dirname(path)) == IMAGENET10_WNIDS[target]
    np.testing.assert_array_equal(np.bincount(splits.train_targets), [2] * 10)
    assert splits.class_names == IMAGENET10_WNIDS
    assert tuple(splits.mean) == (0.485, 0.456, 0.406)
    assert tuple(splits.std) == (0.229, 0.224, 0.225)
    # No val folder: clustering papers score on the training images.
    assert splits.test_images == splits.train_images
    np.testing.assert_array_equal(splits.test_targets, splits.train_targets)


def test_imagenet_dogs_targets_follow_constant_order(tmp_path):
    # Folders directly in data_dir (no train/), plus an ImageNet-10-only wnid to ignore.
    write_imagenet_folders(tmp_path, IMAGENET_DOGS_WNIDS + ["n02056570"], per_class=1)
    splits = load_imagenet_dogs(str(tmp_path))
    assert splits.name == "imagenet_dogs"
    assert splits.num_classes == 15
    assert relpaths(splits.train_images, tmp_path) == [
        f"{w}/{w}_0.JPEG" for w in IMAGENET_DOGS_WNIDS
    ]
    np.testing.assert_array_equal(splits.train_targets, np.arange(15))
    # n02085936 (Maltese dog) is in both subsets, at index 1 of ImageNet-10 and 0 here.
    assert splits.train_targets[splits.train_images.index(
        str(tmp_path / "n02085936" / "n02085936_0.JPEG"))] == 0


def test_imagenet10_uses_val_folder_as_test(tmp_path):
    write_imagenet_folders(tmp_path / "train", IMAGENET10_WNIDS, per_class=2)
    write_imagenet_folders(tmp_path / "val", IMAGENET10_WNIDS + OTHER_WNIDS, per_class=1)
    splits = load_imagenet10(str(tmp_path))
    assert len(splits.train_images) == 20 and len(splits.test_images) == 10
    assert all(os.sep + "val" + os.sep in p for p in splits.test_images)
    np.testing.assert_array_equal(splits.test_targets, np.arange(10))


def test_imagenet10_flat_val_folder_falls_back_to_train(tmp_path):
    write_imagenet_folders(tmp_path / "train", IMAGENET10_WNIDS, per_class=1)
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG").write_bytes(b"")
    with pytest.warns(UserWarning, match="using the train images"):
        splits = load_imagenet10(str(tmp_path))
    assert splits.test_images == splits.train_images


def test_imagenet10_extensions_are_case_insensitive(tmp_path):
    root = tmp_path / "train"
    write_imagenet_folders(root, IMAGENET10_WNIDS[:4], per_class=1, ext=".JPEG")
    write_imagenet_folders(root, IMAGENET10_WNIDS[4:7], per_class=1, ext=".jpg")
    write_imagenet_folders(root, IMAGENET10_WNIDS[7:], per_class=1, ext=".PNG")
    (root / IMAGENET10_WNIDS[0] / "notes.txt").write_text("not an image")
    splits = load_imagenet10(str(tmp_path))
    assert len(splits.train_images) == 10
    assert not any(p.endswith(".txt") for p in splits.train_images)


def test_imagenet10_missing_wnids_are_named(tmp_path):
    write_imagenet_folders(tmp_path / "train", IMAGENET10_WNIDS[:8], per_class=1)
    (tmp_path / "train" / IMAGENET10_WNIDS[9]).mkdir()  # present but empty
    with pytest.raises(DatasetFormatError) as info:
        load_imagenet10(str(tmp_path))
    message = str(info.value)
    assert "imagenet10" in message and str(tmp_path / "train") in message
    assert IMAGENET10_WNIDS[8] in message and IMAGENET10_WNIDS[9] in message
    assert not any(w in message for w in IMAGENET10_WNIDS[:8])  # only the missing ones
    assert "2 of 10" in message and "<wnid>" in message


def test_imagenet_dogs_partial_val_folder_is_an_error(tmp_path):
    write_imagenet_folders(tmp_path / "train", IMAGENET_DOGS_WNIDS, per_class=1)
    write_imagenet_folders(tmp_path / "val", IMAGENET_DOGS_WNIDS[1:], per_class=1)
    with pytest.raises(DatasetFormatError) as info:
        load_imagenet_dogs(str(tmp_path))
    message = str(info.value)
    assert "imagenet_dogs" in message and str(tmp_path / "val") in message
    assert IMAGENET_DOGS_WNIDS[0] in message and "val" in message


def test_imagenet_dogs_missing_directory(tmp_path):
    with pytest.raises(DatasetFormatError) as info:
        load_imagenet_dogs(str(tmp_path / "absent"))
    message = str(info.value)
    assert "imagenet_dogs" in message and str(tmp_path / "absent") in message
    assert "does not exist" in message and "ILSVRC" in message


def test_imagenet10_empty_directory_lists_all_wnids(tmp_path):
    with pytest.raises(DatasetFormatError) as info:
        load_imagenet10(str(tmp_path))
    message = str(info.value)
    assert "10 of 10" in message and all(w in message for w in IMAGENET10_WNIDS)
