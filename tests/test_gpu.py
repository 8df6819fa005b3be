"""Tests that need a CUDA device; they skip cleanly on a machine without one."""

import pytest
import torch

from usb_asd.cli import _extra_arguments
from usb_asd.config import parse_config
from usb_asd.runner import main

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_asd_freematch_trains_on_the_gpu(tmp_path, make_digits_config):
    record = main(parse_config(make_digits_config(
        algorithm="freematch", adaptor="asd", num_labels=0, batch_size=8, uratio=4, num_train_iter=12,
        num_eval_iter=12, asd_warmup_iter=4, asd_cluster_iter=4, asd_round_iter=6, asd_window=8,
        asd_transitions="views", gpu=0,
    ), extra_arguments=_extra_arguments))
    assert record["device"].startswith("cuda") and record["iterations"] == 12 and 0.0 <= record["acc"] <= 1.0


def test_host_fetch_of_device_tensors_matches_item():
    from usb_asd.asd.host import fetch

    loss = torch.tensor(1.2345, device="cuda")
    preds = torch.arange(10, device="cuda") * 7
    out = fetch({"loss": loss, "preds": preds})
    assert float(out["loss"][0]) == loss.item() and out["preds"].tolist() == preds.cpu().tolist()


def test_model_placement_on_cuda():
    import argparse

    from usb_asd.device import place_model, resolve_device

    device = resolve_device(0)
    model = place_model(argparse.Namespace(distributed=False, gpu=0), torch.nn.Linear(2, 2), device)
    assert next(model.parameters()).is_cuda
