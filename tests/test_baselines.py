"""Classical baselines recover an easy planted clustering and score digits sensibly."""

import numpy as np
import pytest

from usb_asd.baselines import CLASSICAL_METHODS, classical_scores
from usb_asd.data.digits import load_digits


@pytest.mark.parametrize("method", sorted(CLASSICAL_METHODS))
def test_planted_blobs_are_recovered(method):
    rng = np.random.default_rng(0)
    centres = np.array([0, 120, 240])
    targets = np.repeat(np.arange(3), 20)
    images = np.clip(centres[targets][:, None] + rng.normal(0, 4, (60, 12)), 0, 255).astype(np.uint8)
    scores = classical_scores(method, images.reshape(60, 2, 2, 3), targets, k=3, seed=0)
    assert scores["acc"] == 1.0 and scores["ari"] == pytest.approx(1.0)


def test_kmeans_on_digits_test_split_is_in_the_known_range():
    s = load_digits()
    acc = classical_scores("kmeans", s.test_images, s.test_targets, k=10, seed=0)["acc"]
    assert 0.6 < acc < 0.95  # k-means on raw digits is about 0.79 on the full set


def test_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        classical_scores("dbscan", np.zeros((4, 1, 1, 1), np.uint8), np.zeros(4, int), 2, 0)
    with pytest.raises(ValueError, match="k \\(9\\)"):
        classical_scores("kmeans", np.zeros((4, 1, 1, 1), np.uint8), np.zeros(4, int), 9, 0)
