"""The validation part of the training pool: fixed, stratified, labels read only there."""

import numpy as np
import pytest
import torch
from torchvision import transforms

from usb_asd.validation import pool_predictions, validation_indices, validation_scores


def test_indices_are_a_fixed_stratified_fifth():
    targets = np.repeat(np.arange(5), 40)
    a, b = validation_indices(targets), validation_indices(targets)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 40 and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(np.bincount(targets[a]), np.full(5, 8))
    assert not np.array_equal(a, validation_indices(targets, seed=1))


def test_no_part_when_some_label_is_unknown():
    assert validation_indices(np.array([0, 1, -1, 0, 1, 1])) is None
    assert validation_indices(np.array([], dtype=np.int64)) is None


def test_scores_match_permuted_clusters():
    targets = np.array([0, 0, 1, 1, 2, 2])
    scores = validation_scores(np.array([2, 2, 0, 0, 1, 1]), targets)
    assert scores == pytest.approx({"val_acc": 1.0, "val_nmi": 1.0, "val_ari": 1.0})
    half = validation_scores(np.array([0, 1, 0, 1, 0, 1]), targets)
    assert half["val_acc"] == pytest.approx(1 / 3) and half["val_ari"] < 0.1  # one image per matched pair


class _Pool:
    """USB dataset stand-in: image i is a constant image of brightness i."""

    def __init__(self, n):
        self.images = [np.full((4, 4, 3), 20 * i, dtype=np.uint8) for i in range(n)]

    def __sample__(self, idx):
        return self.images[idx], idx % 2


class _Brightness(torch.nn.Module):
    """Cluster 1 when the mean pixel exceeds a threshold; records its mode."""

    def forward(self, x):
        self.seen_training = self.training
        bright = x.mean(dim=(1, 2, 3)) > 0.3
        return {"logits": torch.stack([(~bright).float(), bright.float()], dim=1)}


def test_pool_predictions_follow_indices_in_eval_mode():
    model = _Brightness()
    model.train()
    preds = pool_predictions(model, _Pool(10), transforms.ToTensor(), np.array([9, 0, 5, 3]), "cpu", batch_size=3)
    np.testing.assert_array_equal(preds, [1, 0, 1, 0])
    assert model.seen_training is False and model.training is True
