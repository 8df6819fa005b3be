"""Figures are real PNG files with content; the confusion matrix matches clusters to classes."""

import numpy as np
import pytest

from usb_asd.compare.aggregate import summarise_classical, summarise_runs
from usb_asd.compare.figures import matched_confusion, mean_curve, plot_accuracy_bars, plot_confusion, plot_history
from usb_asd.metrics import cluster_accuracy

from .conftest import assert_valid_png
from .test_aggregate import CLASSICAL_RUNS, RUNS


def test_matched_confusion_maps_clusters_to_classes():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([5, 5, 7, 7, 7, 9, 9, 5])  # 5 -> 0, 7 -> 1, 9 -> 2
    matrix, classes, unmatched = matched_confusion(y_true, y_pred)
    assert classes == [0, 1, 2] and not unmatched
    assert matrix.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert np.trace(matrix) / len(y_true) == pytest.approx(cluster_accuracy(y_true, y_pred))


def test_matched_confusion_counts_unmatched_clusters():
    y_true = np.array([0, 0, 1, 1, 1])
    y_pred = np.array([3, 3, 4, 4, 8])  # cluster 8 has no class left
    matrix, classes, unmatched = matched_confusion(y_true, y_pred)
    assert unmatched and matrix.tolist() == [[2, 0, 0], [0, 2, 1]]


def test_mean_curve_uses_iterations_every_run_has():
    its, means, stds = mean_curve([[{"it": 3, "acc": 0.2}, {"it": 6, "acc": 0.4}],
                                   [{"it": 3, "acc": 0.4}, {"it": 6, "acc": 0.6}, {"it": 9, "acc": 0.9}]], "acc")
    assert its == [3, 6] and means == pytest.approx([0.3, 0.5]) and stds == pytest.approx([0.1414214, 0.1414214])


def test_accuracy_bars_png(tmp_path):
    path = tmp_path / "bars.png"
    plot_accuracy_bars(summarise_runs(RUNS), summarise_classical(CLASSICAL_RUNS), str(path))
    assert_valid_png(path)


def test_confusion_png(tmp_path):
    rng = np.random.default_rng(0)
    y_true = np.repeat(np.arange(10), 36)
    y_pred = np.where(rng.random(360) < 0.8, (y_true + 3) % 10, rng.integers(0, 10, 360))
    path = tmp_path / "confusion.png"
    plot_confusion(y_true, y_pred, str(path))
    assert_valid_png(path, min_width=300, min_height=300)


def test_history_png(tmp_path):
    def evals(offset):
        return [{"it": it, "acc": 0.1 + offset + it / 100, "top1": 0.2 + offset + it / 100} for it in (3, 6, 9)]

    runs = [{"learner": learner, "labels": labels, "seed": seed, "kind": "asd" if labels == 0 else "ground truth",
             "evals": evals(0.05 * seed)}
            for learner in ("fixmatch", "freematch", "flexmatch") for labels in (0, 40) for seed in (0, 1)]
    path = tmp_path / "history.png"
    plot_history(runs, str(path))
    assert_valid_png(path, min_width=600)
