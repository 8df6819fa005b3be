"""One host transfer gives the same values as fetching each tensor alone."""

import numpy as np
import pytest
import torch

from usb_asd.asd.host import fetch


def test_fetch_returns_each_tensor_exactly_and_skips_none():
    loss = torch.tensor(2.718281828, dtype=torch.float32)
    half = torch.tensor(0.1, dtype=torch.float16)
    preds = torch.tensor([0, 3999, 17, 4000 - 1], dtype=torch.int64)
    out = fetch({"loss": loss, "half": half, "preds": preds, "absent": None})
    assert set(out) == {"loss", "half", "preds"}
    assert float(out["loss"][0]) == loss.item() and float(out["half"][0]) == half.item()
    assert out["preds"].dtype == np.int64 and np.array_equal(out["preds"], preds.numpy())
    assert fetch({"a": None}) == {}


def test_fetch_refuses_integers_float32_cannot_hold():
    with pytest.raises(ValueError, match="2\\^24"):
        fetch({"idx": torch.tensor([2**25])})
