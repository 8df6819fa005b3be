"""Dataset names resolve to loaders; missing directories fail clearly."""

import pytest

from usb_asd.data.registry import DATASETS, load_splits
from usb_asd.data.splits import DatasetFormatError


def test_known_datasets():
    assert {"digits", "folder", "cifar10", "cifar100_20", "stl10", "imagenet10", "imagenet_dogs"} <= set(DATASETS)


def test_digits_needs_no_directory(tmp_path):
    splits = load_splits("digits", str(tmp_path / "nowhere"))
    assert splits.num_classes == 10


@pytest.mark.parametrize("name", ["cifar10", "cifar100_20", "stl10", "imagenet10", "imagenet_dogs", "folder"])
def test_missing_directory_names_dataset_and_path(tmp_path, name):
    missing = tmp_path / "absent"
    with pytest.raises(DatasetFormatError) as info:
        load_splits(name, str(missing), num_classes=3)
    assert name in str(info.value) and str(missing) in str(info.value)


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(KeyError, match="digits"):
        load_splits("mnist", ".")
