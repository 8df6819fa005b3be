"""ImageSplits -> USB datasets: the keys USB learners read, labels only where asked."""

import numpy as np
import pytest
from PIL import Image

import usb_asd  # noqa: F401
from usb_asd.data.digits import load_digits
from usb_asd.data.splits import ImageSplits
from usb_asd.data.usb_datasets import build_usb_datasets


def test_labelled_unlabelled_and_eval_items():
    splits = load_digits()
    d = build_usb_datasets(splits, "fixmatch", "glyph", 16, 0.875, num_labels=40, seed=0)
    assert len(d["train_lb"]) == 40 and len(d["train_ulb"]) == 1437 and len(d["eval"]) == 360
    assert np.all(np.bincount(d["train_lb"].targets, minlength=10) == 4)
    lb, ulb, ev = d["train_lb"][0], d["train_ulb"][5], d["eval"][0]
    assert set(lb) == {"idx_lb", "x_lb", "y_lb"} and lb["x_lb"].shape == (3, 16, 16)
    assert set(ulb) == {"idx_ulb", "x_ulb_w", "x_ulb_s"} and ulb["idx_ulb"] == 5
    assert ev["y_lb"] == splits.test_targets[0]


def test_no_labels_builds_no_labelled_set():
    d = build_usb_datasets(load_digits(), "freematch", "glyph", 8, 0.875, num_labels=0, seed=0)
    assert d["train_lb"] is None and len(d["train_ulb"]) == 1437


def test_image_paths_are_decoded(tmp_path):
    paths = []
    for i in range(4):
        p = tmp_path / f"{i}.png"
        Image.fromarray(np.full((10, 12, 3), 40 * i, dtype=np.uint8)).save(p)
        paths.append(str(p))
    splits = ImageSplits("folder", paths, np.full(4, -1), paths, np.full(4, -1), num_classes=2)
    d = build_usb_datasets(splits, "fixmatch", "natural", 8, 0.875, num_labels=0, seed=0)
    item = d["eval"][3]
    assert item["x_lb"].shape == (3, 8, 8) and item["y_lb"] == -1
    # 120/255 normalised with mean 0.5, std 0.5
    assert float(item["x_lb"][0, 4, 4]) == pytest.approx((120 / 255 - 0.5) / 0.5, abs=1e-5)


def test_extra_unlabelled_images_join_the_pool_only():
    imgs = np.zeros((6, 4, 4, 3), dtype=np.uint8)
    extra = np.full((3, 4, 4, 3), 255, dtype=np.uint8)
    splits = ImageSplits("stl10", imgs, np.arange(6) % 2, imgs[:2], np.array([0, 1]), 2, extra_train_images=extra)
    d = build_usb_datasets(splits, "fixmatch", "natural", 4, 0.875, num_labels=2, seed=0)
    assert len(d["train_lb"]) == 2 and len(d["train_ulb"]) == 9
    assert list(d["train_ulb"].targets[-3:]) == [-1, -1, -1]


def test_all_labels():
    splits = load_digits()
    d = build_usb_datasets(splits, "fixmatch", "glyph", 8, 0.875, num_labels=-1, seed=0)
    assert np.array_equal(d["train_lb"].targets, splits.train_targets) and len(d["train_ulb"]) == 1437
    with pytest.raises(ValueError, match="include_lb_to_ulb"):
        build_usb_datasets(splits, "fixmatch", "glyph", 8, 0.875, num_labels=-1, seed=0, include_lb_to_ulb=False)
    with pytest.raises(ValueError, match="num_labels"):
        build_usb_datasets(splits, "fixmatch", "glyph", 8, 0.875, num_labels=-2, seed=0)
