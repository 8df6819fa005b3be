"""The shapes toy: the planted groups, flat or in class folders, readable by the folder loader."""

import numpy as np

from usb_asd.data.folder import load_image_folder
from usb_asd.data.shapes import draw_shape, write_shapes_folder


def test_flat_and_labelled_folders(tmp_path):
    flat = write_shapes_folder(str(tmp_path / "flat"), per_group=4, groups=3)
    assert len(flat) == 12
    splits = load_image_folder(str(tmp_path / "flat"), num_classes=3)
    assert np.all(splits.train_targets == -1)
    write_shapes_folder(str(tmp_path / "lab"), per_group=4, groups=2, labelled=True)
    splits = load_image_folder(str(tmp_path / "lab"))
    assert splits.class_names == ["circle", "square"] and np.bincount(splits.train_targets).tolist() == [4, 4]


def test_shapes_differ_in_area():
    rng = np.random.default_rng(0)
    square, triangle = draw_shape("square", rng), draw_shape("triangle", rng)
    assert square.shape == (32, 32, 3) and square.dtype == np.uint8
    # A filled shape is brighter than the background everywhere it covers.
    assert (square.max(axis=2) > 100).sum() > (triangle.max(axis=2) > 100).sum() * 0.8


def test_each_group_has_its_own_hue():
    from usb_asd.data.shapes import HUES

    rng = np.random.default_rng(1)
    for g, hue in enumerate(HUES[:3]):
        img = draw_shape("square", rng, hue=hue).reshape(-1, 3).astype(int)
        fg = img[img.max(axis=1) > 100].mean(axis=0)
        assert int(np.argmax(fg)) == int(np.argmax(hue))  # the dominant channel is the group's


def test_every_image_has_the_same_background():
    """Nothing outside the shape varies, so it cannot rival the planted groups (random backgrounds did)."""
    from usb_asd.data.shapes import BACKGROUND, HUES, SHAPES

    rng = np.random.default_rng(2)
    for g in range(5):
        img = draw_shape(SHAPES[g], rng, hue=HUES[g])
        border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
        assert (border == np.asarray(BACKGROUND)).all()


def test_raw_pixels_already_separate_the_planted_groups():
    from sklearn.cluster import KMeans

    from usb_asd.data.shapes import HUES, SHAPES
    from usb_asd.metrics import clustering_scores

    rng = np.random.default_rng(0)
    planted = np.repeat(np.arange(3), 20)
    pixels = np.stack([draw_shape(SHAPES[g], rng, hue=HUES[g]).ravel() / 255.0 for g in planted])
    found = KMeans(3, n_init=10, random_state=0).fit_predict(pixels)
    assert clustering_scores(planted, found)["acc"] == 1.0
