"""Tests of the generic image-folder reader ("cluster your own images")."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.data.fixtures import relpaths, write_class_tree, write_image, write_loose_images, pattern
from usb_asd.data.folder import load_image_folder
from usb_asd.data.splits import UNKNOWN_TARGET, DatasetFormatError


def test_single_labelled_tree_is_train_and_test(tmp_path):
    # Written out of order and with mixed-case extensions; classes are sorted by name.
    write_class_tree(tmp_path, {"zebra": 2, "ant": 1, "mouse": 3})
    write_image(tmp_path / "ant" / "nested" / "deep.JPG", pattern(9, 4, 4))
    (tmp_path / "mouse" / "readme.txt").write_text("ignored")
    (tmp_path / ".hidden").mkdir()
    write_image(tmp_path / ".hidden" / "x.png", pattern(0, 4, 4))
    splits = load_image_folder(str(tmp_path))

    assert splits.name == "folder"
    assert splits.class_names == ["ant", "mouse", "zebra"]
    assert splits.num_classes == 3
    assert relpaths(splits.train_images, tmp_path) == [
        "ant/img_0.png", "ant/nested/deep.JPG",
        "mouse/img_0.png", "mouse/img_1.png", "mouse/img_2.png",
        "zebra/img_0.png", "zebra/img_1.png",
    ]
    np.testing.assert_array_equal(splits.train_targets, [0, 0, 1, 1, 1, 2, 2])
    assert splits.test_images == splits.train_images
    np.testing.assert_array_equal(splits.test_targets, splits.train_targets)
    assert tuple(splits.mean) == (0.5, 0.5, 0.5) and tuple(splits.std) == (0.5, 0.5, 0.5)
    assert splits.has_train_labels and splits.has_test_labels


def test_train_test_split_with_labels(tmp_path):
    write_class_tree(tmp_path / "train", {"cat": 2, "dog": 2, "owl": 1})
    # Test lacks "dog": its classes map by name onto train's indices.
    write_class_tree(tmp_path / "test", {"owl": 1, "cat": 1}, start=50)
    splits = load_image_folder(str(tmp_path), num_classes=3)
    assert splits.class_names == ["cat", "dog", "owl"]
    assert relpaths(splits.train_images, tmp_path)[0] == "train/cat/img_0.png"
    assert relpaths(splits.test_images, tmp_path) == ["test/cat/img_0.png", "test/owl/img_0.png"]
    np.testing.assert_array_equal(splits.train_targets, [0, 0, 1, 1, 2])
    np.testing.assert_array_equal(splits.test_targets, [0, 2])


def test_train_without_test_folder_reuses_train(tmp_path):
    write_class_tree(tmp_path / "train", {"a": 1, "b": 1})
    splits = load_image_folder(str(tmp_path))
    assert splits.test_images == splits.train_images
    assert relpaths(splits.train_images, tmp_path) == ["train/a/img_0.png", "train/b/img_0.png"]


def test_unlabelled_single_folder_needs_num_classes(tmp_path):
    write_loose_images(tmp_path, ["b.png", "A.jpeg", "c.WEBP", "d.tif", "e.bmp", "f.gif"])
    (tmp_path / "notes.txt").write_text("ignored")
    splits = load_image_folder(str(tmp_path), num_classes=4)
    assert splits.num_classes == 4
    assert splits.class_names is None
    assert relpaths(splits.train_images, tmp_path) == [
        "A.jpeg", "b.png", "c.WEBP", "d.tif", "e.bmp", "f.gif"
    ]
    assert (splits.train_targets == UNKNOWN_TARGET).all()
    assert not splits.has_train_labels and not splits.has_test_labels

    with pytest.raises(ValueError) as info:
        load_image_folder(str(tmp_path))
    assert "num_classes" in str(info.value) and str(tmp_path) in str(info.value)


def test_unlabelled_train_with_labelled_test(tmp_path):
    write_loose_images(tmp_path / "train", ["x1.png", "x2.png", "x3.png"])
    write_class_tree(tmp_path / "test", {"left": 1, "right": 2})
    splits = load_image_folder(str(tmp_path))
    assert splits.num_classes == 2 and splits.class_names == ["left", "right"]
    assert (splits.train_targets == UNKNOWN_TARGET).all()
    np.testing.assert_array_equal(splits.test_targets, [0, 1, 1])


def test_labelled_train_with_unlabelled_test(tmp_path):
    write_class_tree(tmp_path / "train", {"p": 1, "q": 1})
    write_loose_images(tmp_path / "test", ["t.png"])
    splits = load_image_folder(str(tmp_path))
    assert splits.num_classes == 2
    np.testing.assert_array_equal(splits.train_targets, [0, 1])
    np.testing.assert_array_equal(splits.test_targets, [UNKNOWN_TARGET])


def test_empty_subfolder_next_to_loose_images_is_ignored(tmp_path):
    write_loose_images(tmp_path, ["a.png"])
    (tmp_path / "empty").mkdir()
    assert len(load_image_folder(str(tmp_path), num_classes=2).train_images) == 1


def test_num_classes_must_match_class_folders(tmp_path):
    write_class_tree(tmp_path, {"a": 1, "b": 1})
    with pytest.raises(ValueError, match="`num_classes` is 3 but .* 2 class folders"):
        load_image_folder(str(tmp_path), num_classes=3)


@pytest.mark.parametrize("bad", [0, -2, 2.5, "3", True])
def test_num_classes_must_be_positive_int(tmp_path, bad):
    write_loose_images(tmp_path, ["a.png"])
    with pytest.raises(ValueError, match="num_classes"):
        load_image_folder(str(tmp_path), num_classes=bad)


def test_mixed_layout_is_an_error(tmp_path):
    write_loose_images(tmp_path / "train", ["loose.png"])
    write_class_tree(tmp_path / "train", {"cls": 1})
    with pytest.raises(DatasetFormatError) as info:
        load_image_folder(str(tmp_path), num_classes=2)
    message = str(info.value)
    assert "dataset 'folder'" in message and str(tmp_path / "train") in message
    assert "mixed" in message and "cls" in message and "class folders" in message


def test_missing_directory(tmp_path):
    with pytest.raises(DatasetFormatError) as info:
        load_image_folder(str(tmp_path / "absent"), num_classes=2)
    message = str(info.value)
    assert "dataset 'folder'" in message and str(tmp_path / "absent") in message
    assert "does not exist" in message and "<class_name>" in message


def test_no_images_is_an_error(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetFormatError) as info:
        load_image_folder(str(tmp_path), num_classes=2)
    message = str(info.value)
    assert "dataset 'folder'" in message and str(tmp_path) in message
    assert "no images" in message and "split" in message


def test_class_folders_without_any_image(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(DatasetFormatError, match="no images found"):
        load_image_folder(str(tmp_path))


def test_empty_class_folder_is_an_error(tmp_path):
    write_class_tree(tmp_path, {"full": 1})
    (tmp_path / "hollow").mkdir()
    with pytest.raises(DatasetFormatError, match="class folders without images: hollow"):
        load_image_folder(str(tmp_path))


def test_empty_test_split_is_an_error(tmp_path):
    write_class_tree(tmp_path / "train", {"a": 1})
    (tmp_path / "test").mkdir()
    with pytest.raises(DatasetFormatError) as info:
        load_image_folder(str(tmp_path))
    assert str(tmp_path / "test") in str(info.value) and "no images" in str(info.value)


def test_test_class_absent_from_train_is_an_error(tmp_path):
    write_class_tree(tmp_path / "train", {"a": 1, "b": 1})
    write_class_tree(tmp_path / "test", {"a": 1, "c": 1})
    with pytest.raises(DatasetFormatError) as info:
        load_image_folder(str(tmp_path))
    assert str(tmp_path / "test") in str(info.value) and "absent from train: c" in str(info.value)


# ---- each file read once: links, loops, duplicates ------------------------------------

def test_a_folder_link_back_up_is_not_followed_and_the_pool_does_not_grow(tmp_path, caplog):
    write_class_tree(tmp_path, {"a": 3, "b": 2})
    (tmp_path / "a" / "up").symlink_to("..")  # os.walk(followlinks=True) read the tree ~80 times over
    (tmp_path / "b" / "self").symlink_to(".")
    with caplog.at_level("WARNING", logger="usb_asd"):
        splits = load_image_folder(str(tmp_path))
    assert len(splits.train_images) == 5
    assert "2 folder link(s) lead back to a folder above them and were not followed" in caplog.text


def test_a_class_folder_that_is_a_link_is_read_once(tmp_path):
    write_class_tree(tmp_path / "elsewhere", {"real": 2})
    write_class_tree(tmp_path / "data", {"a": 1})
    (tmp_path / "data" / "b").symlink_to(tmp_path / "elsewhere" / "real")
    splits = load_image_folder(str(tmp_path / "data"))
    assert relpaths(splits.train_images, tmp_path / "data") == ["a/img_0.png", "b/img_0.png", "b/img_1.png"]
    np.testing.assert_array_equal(splits.train_targets, [0, 1, 1])


def test_two_links_to_one_folder_are_one_error(tmp_path):
    write_class_tree(tmp_path / "data", {"a": 2})
    (tmp_path / "data" / "b").symlink_to(tmp_path / "data" / "a")
    with pytest.raises(DatasetFormatError, match=r"'.*/data/b' is the same folder as '.*/data/a'.*read twice"):
        load_image_folder(str(tmp_path / "data"))


def test_the_same_file_twice_is_one_error_naming_both(tmp_path):
    write_class_tree(tmp_path, {"a": 2, "b": 1})
    (tmp_path / "b" / "copy.png").symlink_to(tmp_path / "a" / "img_0.png")
    with pytest.raises(DatasetFormatError) as info:
        load_image_folder(str(tmp_path))
    message = str(info.value)
    assert "1 image path(s) repeat a file already listed" in message and "b/copy.png" in message
    assert "a/img_0.png" in message and "\n" not in message
    (tmp_path / "b" / "copy.png").unlink()
    os.link(tmp_path / "a" / "img_1.png", tmp_path / "b" / "hard.png")  # a hard link is the same file too
    with pytest.raises(DatasetFormatError, match="repeat a file already listed"):
        load_image_folder(str(tmp_path))


def test_a_file_link_loop_and_a_broken_link_are_named(tmp_path):
    write_loose_images(tmp_path, ["a.png", "b.png"])
    (tmp_path / "x.png").symlink_to("y.png")
    (tmp_path / "y.png").symlink_to("x.png")
    with pytest.raises(DatasetFormatError, match=r"x\.png' is a symbolic link loop"):
        load_image_folder(str(tmp_path), num_classes=2)
    (tmp_path / "x.png").unlink()
    (tmp_path / "y.png").unlink()
    (tmp_path / "gone.png").symlink_to("nothing.png")
    with pytest.raises(DatasetFormatError, match=r"gone\.png' is a broken symbolic link \(its target 'nothing\.png'"):
        load_image_folder(str(tmp_path), num_classes=2)


def test_something_other_than_a_file_is_named_not_read(tmp_path):
    write_loose_images(tmp_path, ["a.png"])
    os.mkfifo(tmp_path / "pipe.png")  # reading it would block forever
    with pytest.raises(DatasetFormatError, match=r"pipe\.png' is not a regular file"):
        load_image_folder(str(tmp_path), num_classes=1)
