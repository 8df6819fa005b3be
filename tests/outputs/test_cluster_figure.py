"""clusters.png: a valid, non-blank PNG with one row per non-empty cluster."""

import numpy as np
from PIL import Image

from usb_asd.outputs.cluster_figure import IMAGES_PER_ROW, cluster_rows, draw_clusters, matched_confusion


def _images(n, rng):
    return [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(n)]


def test_rows_are_non_empty_clusters_with_most_confident_first():
    clusters = np.array([3, 3, 0, 3, 0] + [3] * 20)
    confidence = np.array([0.5, 0.9, 0.3, 0.7, 0.8] + [0.1] * 20)
    rows = cluster_rows(clusters, confidence)
    assert [(r.cluster, r.size) for r in rows] == [(0, 2), (3, 23)]
    assert rows[0].shown == [4, 2]
    assert rows[1].shown[:3] == [1, 3, 0] and len(rows[1].shown) == IMAGES_PER_ROW


def test_matched_confusion_orders_clusters_by_their_class():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([7, 7, 2, 2, 5, 5])
    table, clusters, classes = matched_confusion(y_true, y_pred)
    assert clusters == [7, 2, 5] and classes == [0, 1, 2]
    assert np.array_equal(table, 2 * np.eye(3, dtype=int))


def _png(path):
    with Image.open(path) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("L"), dtype=np.float64)


def test_png_is_valid_not_blank_and_grows_with_the_clusters(tmp_path):
    rng = np.random.default_rng(0)
    images = _images(60, rng)
    clusters = np.repeat([0, 2, 5], 20)  # clusters 1, 3 and 4 of 6 are empty
    confidence = rng.random(60)
    y_true = np.repeat([0, 1, 2], 20)
    rows = draw_clusters(str(tmp_path / "a.png"), clusters, confidence, lambda i: images[i], 6,
                         y_true=y_true, y_pred=clusters, class_names=["cat", "dog", "owl"])
    assert [r.cluster for r in rows] == [0, 2, 5]
    three = _png(tmp_path / "a.png")
    assert 250 <= three.shape[0] <= 2000 and 600 <= three.shape[1] <= 3000
    assert three.std() > 10  # not blank
    eight = np.arange(80) % 8
    rows = draw_clusters(str(tmp_path / "b.png"), eight, rng.random(80), lambda i: images[i % 60], 8)
    assert len(rows) == 8
    taller = _png(tmp_path / "b.png")
    assert taller.shape[0] > three.shape[0]  # one row per cluster
    assert not list(tmp_path.glob(".tmp-*"))


def test_runs_write_the_figure(digits_run, folder_run):
    for save in (digits_run[0], folder_run[0]):
        pixels = _png(save / "clusters.png")
        assert pixels.shape[0] >= 250 and pixels.std() > 10
