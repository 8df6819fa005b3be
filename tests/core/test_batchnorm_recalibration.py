"""bn_recalibration: the re-estimated statistics' mathematics, and the option's place at the end of a run."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from usb_asd.core.batchnorm_recalibration import batchnorm_layers, recalibrate_batchnorm, resolve_bn_recalibration


class _Vectors:
    """A USB-like dataset of vectors (``__sample__(i) -> (x, target)``)."""

    def __init__(self, data: torch.Tensor) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __sample__(self, i):
        return self.data[i], 0


def _identity(x):
    return x


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.BatchNorm1d(3), nn.Linear(3, 2)).eval()


def test_one_batch_gives_the_images_own_mean_and_unbiased_variance_and_leaves_the_weights():
    data = torch.randn(10, 3, generator=torch.Generator().manual_seed(1)) * torch.tensor([1.0, 2.0, 0.5]) + 3.0
    model = _model()
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    assert recalibrate_batchnorm(model, _Vectors(data), _identity, torch.device("cpu"), batch_size=10) == 10
    bn = model[0]
    assert torch.allclose(bn.running_mean, data.mean(0), atol=1e-6)
    assert torch.allclose(bn.running_var, data.var(0, unbiased=True), atol=1e-5)
    assert bn.momentum == 0.1 and not model.training  # the layer's momentum and the eval flag are restored
    for key, value in weights.items():
        assert torch.equal(model.state_dict()[key], value)


def test_several_batches_average_the_batches_statistics_and_a_last_single_image_is_left_out():
    data = torch.randn(11, 3, generator=torch.Generator().manual_seed(2))
    model = _model()
    assert recalibrate_batchnorm(model, _Vectors(data), _identity, torch.device("cpu"), batch_size=5) == 10
    halves = (data[:5], data[5:10])
    assert torch.allclose(model[0].running_mean, sum(h.mean(0) for h in halves) / 2, atol=1e-6)
    assert torch.allclose(model[0].running_var, sum(h.var(0, unbiased=True) for h in halves) / 2, atol=1e-5)


def test_a_model_without_batch_norm_is_left_as_it_is():
    model = nn.Linear(3, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert batchnorm_layers(model) == 0
    assert recalibrate_batchnorm(model, _Vectors(torch.randn(4, 3)), _identity, torch.device("cpu"), 2) == 0
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())


def test_an_unknown_recalibration_is_refused_naming_the_key(make_digits_config):
    from usb_asd.cli import _extra_arguments
    from usb_asd.config import parse_config
    from usb_asd.config import ConfigError
    from usb_asd.preflight import check_settings

    args = parse_config(make_digits_config(bn_recalibration="train"), extra_arguments=_extra_arguments)
    with pytest.raises(ConfigError, match="key 'bn_recalibration': expected one of auto, none, pool, got 'train'"):
        check_settings(args)


@pytest.mark.parametrize("adaptor, target, expected", [
    ("asd", None, "pool"),  # measured and adopted (docs/PROTOCOL.md)
    ("selflabel", None, "none"),  # not measured: USB's statistics
    (None, None, "none"),  # labelled learners
    ("asd", "mnist5k", "none"),  # domain adaptation
])
def test_auto_is_pool_only_where_it_was_measured(adaptor, target, expected):
    assert resolve_bn_recalibration("auto", adaptor, target) == expected
    # An explicit choice is kept whatever the run.
    assert resolve_bn_recalibration("none", adaptor, target) == "none"
    assert resolve_bn_recalibration("pool", adaptor, target) == "pool"


def test_the_run_records_what_auto_became(make_digits_config):
    from usb_asd.cli import _extra_arguments
    from usb_asd.config import parse_config
    from usb_asd.runner import resolve_settings

    labelled = parse_config(make_digits_config(num_labels=40), extra_arguments=_extra_arguments)
    label_free = parse_config(make_digits_config(adaptor="asd", num_labels=0), extra_arguments=_extra_arguments)
    assert labelled.bn_recalibration == label_free.bn_recalibration == "auto"  # the default
    resolve_settings(labelled)
    resolve_settings(label_free)
    assert (labelled.bn_recalibration, label_free.bn_recalibration) == ("none", "pool")


def test_pool_changes_only_the_final_statistics_and_every_output_holds_them(tmp_path, make_digits_config):
    """Two label-free runs (ASD) of one seed, none and pool: the same weights; the pool run's EMA model
    (latest_model.pth) holds the statistics its own EMA weights give on the pool, and results.json scored it."""
    from usb_asd.cli import _extra_arguments
    from usb_asd.config import parse_config
    from usb_asd.runner import main

    runs = {}
    for mode in ("none", "pool", "auto"):
        config = make_digits_config(adaptor="asd", num_labels=0, batch_size=8, uratio=8, num_train_iter=12,
                                    num_eval_iter=12, asd_warmup_iter=5, asd_cluster_iter=5, asd_round_iter=10,
                                    asd_window=40, save_name=mode, bn_recalibration=mode)
        runs[mode] = main(parse_config(config, extra_arguments=_extra_arguments))
    saved = {m: torch.load(tmp_path / m / "latest_model.pth", map_location="cpu", weights_only=False)
             for m in runs}
    stats = [k for k in saved["none"]["ema_model"] if "running_" in k]
    assert stats
    for key, value in saved["none"]["ema_model"].items():
        if key in stats:
            assert not torch.equal(value, saved["pool"]["ema_model"][key]), key
        elif "num_batches_tracked" not in key:
            assert torch.equal(value, saved["pool"]["ema_model"][key]), key
    assert "statistics re-estimated on" in (tmp_path / "pool" / "log.txt").read_text()
    assert "re-estimated" not in (tmp_path / "none" / "log.txt").read_text()
    # The default (auto) of a label-free ASD run is pool: the same final model and scores, and it says so.
    assert (runs["none"]["bn_recalibration"], runs["pool"]["bn_recalibration"]) == ("none", "pool")
    assert runs["auto"]["bn_recalibration"] == "pool"
    assert runs["auto"]["acc"] == runs["pool"]["acc"]
    for key, value in saved["pool"]["ema_model"].items():
        assert torch.equal(value, saved["auto"]["ema_model"][key]), key

    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from bn_recalibration_offline import score_run

    # The benchmark's offline operation is the hook's: on the none run it must give the pool run's scores
    # (the same weights, the same pool batches); on the pool run it changes nothing more.
    offline = score_run(str(tmp_path / "none"))
    reported = json.loads((tmp_path / "pool" / "results.json").read_text())
    assert offline["stored"]["acc"] == runs["none"]["acc"]
    assert offline["pool"]["acc"] == pytest.approx(reported["acc"], abs=1e-12)
    assert offline["pool"]["val_acc"] == pytest.approx(reported["val_acc"], abs=1e-12)
    again = score_run(str(tmp_path / "pool"))
    assert again["pool"] == again["stored"]
    assert np.isfinite(reported["acc"])
