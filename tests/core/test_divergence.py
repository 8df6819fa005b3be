"""Divergence: a NaN loss or NaN weights stop the run at that iteration; the last good checkpoint is kept."""

import argparse
import os
from types import SimpleNamespace

import pytest
import torch

from usb_asd.cli import _extra_arguments, run_from_command_line
from usb_asd.config import parse_config
from usb_asd.core.checkpoints import checkpoint_problem
from usb_asd.core.divergence import (
    LossGuardHook, TrainingDiverged, WeightGuardHook, all_finite, likely_settings, non_finite_terms,
)
from usb_asd.errors import UserError
from usb_asd.runner import main


class InjectNaNAtIteration:
    """Test mixin: the labelled images of iteration ``at`` (0-based, USB's ``it``) become NaN."""

    at = 5

    def process_batch(self, input_args=None, **kwargs):
        batch = super().process_batch(input_args, **kwargs)
        if self.it == self.at:
            batch["x_lb"] = batch["x_lb"] * float("nan")
        return batch


def _args(**values):
    return argparse.Namespace(**{"lr": 0.03, "amp": False, "clip_grad": 0.0, "ulb_loss_ratio": 1.0, "uratio": 7,
                                 "crop_ratio": 0.875, "supercm_beta": 0.186, **values})


def test_non_finite_terms_are_the_train_entries_only():
    log = {"train/sup_loss": float("nan"), "train/unsup_loss": 0.5, "train/total_loss": float("inf"),
           "eval/loss": float("nan"), "lr": 0.1, "train/mask": torch.tensor(float("nan"))}
    assert set(non_finite_terms(log)) == {"train/sup_loss", "train/total_loss", "train/mask"}


def test_likely_settings_name_lr_loss_weights_and_amp_not_other_ratios():
    text = likely_settings(_args(amp=True, supercm=True))
    assert "lr: 0.03" in text and "ulb_loss_ratio: 1.0" in text and "supercm_beta: 0.186" in text
    assert "amp: True (half precision" in text and "clip_grad: 0.0 (0 is off" in text
    assert "uratio" not in text and "crop_ratio" not in text
    assert "supercm_beta" not in likely_settings(_args(supercm=False))  # only the active terms' weights


def test_all_finite():
    assert all_finite([torch.ones(3), torch.zeros(2, 2), torch.arange(3)])
    assert not all_finite([torch.ones(3), torch.tensor([1.0, float("inf")])])


def _fake_algorithm(loss, weight):
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight[0, 0] = weight
    return SimpleNamespace(it=6, num_train_iter=40, args=_args(), distributed=False, model=model,
                           out_dict={"loss": torch.tensor(loss)}, log_dict={"train/sup_loss": loss},
                           last_checkpoint=("/r/latest_model.pth", 4), print_fn=lambda message: None)


def test_the_loss_guard_stops_before_the_update_and_names_everything():
    LossGuardHook().after_train_step(_fake_algorithm(0.5, 1.0))  # finite: nothing happens
    with pytest.raises(TrainingDiverged) as caught:
        LossGuardHook().after_train_step(_fake_algorithm(float("nan"), 1.0))
    message = str(caught.value)
    assert isinstance(caught.value, UserError)
    assert message.startswith("training diverged at iteration 7 of 40: the loss is not finite")
    assert "train/sup_loss = nan" in message and "lr: 0.03" in message
    assert "/r/latest_model.pth (iteration 4)" in message and "no results.json" in message


def test_the_weight_guard_catches_weights_a_finite_loss_overflowed():
    WeightGuardHook().after_train_step(_fake_algorithm(0.5, 1.0))
    with pytest.raises(TrainingDiverged, match="the weights became non-finite in the update"):
        WeightGuardHook().after_train_step(_fake_algorithm(0.5, float("inf")))


def test_guards_sit_around_the_update(make_digits_config):
    from semilearn.core.utils import get_net_builder

    from usb_asd import plugin
    from usb_asd.core.learner import build_learner

    plugin.register()
    args = parse_config(make_digits_config(), extra_arguments=_extra_arguments)
    args.distributed, args.procs_per_node = False, 1
    names = [h.name for h in build_learner(args, get_net_builder(args.net, False))._hooks]
    assert names.index("LossGuardHook") + 1 == names.index("ParamUpdateHook")
    assert names.index("WeightGuardHook") > names.index("ParamUpdateHook")
    assert names.index("WeightGuardHook") < min(names.index("EMAHook"), names.index("CheckpointHook"))


def test_a_nan_loss_stops_the_run_there_and_keeps_the_last_good_checkpoint(tmp_path, make_digits_config, capsys):
    argv = make_digits_config(num_train_iter=12, num_eval_iter=4, num_log_iter=2)
    args = parse_config(argv, extra_arguments=_extra_arguments)
    with pytest.raises(TrainingDiverged) as caught:
        main(args, extra_mixins=(InjectNaNAtIteration,))
    message = str(caught.value)
    folder = tmp_path / "run"
    assert message.startswith("training diverged at iteration 6 of 12: the loss is not finite")
    assert "train/sup_loss = nan" in message and "train/total_loss = nan" in message
    assert "lr: 0.03" in message and "ulb_loss_ratio: 1.0" in message and "amp: False" in message
    assert f"{folder / 'latest_model.pth'} (iteration 4)" in message
    assert not (folder / "results.json").exists()
    assert "error: training diverged at iteration 6" in (folder / "log.txt").read_text()
    # The checkpoint of iteration 4 is whole, finite, and was not overwritten.
    assert checkpoint_problem(str(folder / "latest_model.pth")) is None
    state = torch.load(folder / "latest_model.pth", map_location="cpu", weights_only=False)
    assert state["it"] == 4
    assert all(torch.isfinite(t).all() for key in ("model", "ema_model") for t in state[key].values()
               if t.is_floating_point())
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_train_py_reports_divergence_on_one_line(tmp_path, make_digits_config, capsys):
    # lr 1e6 makes fixmatch's loss or weights non-finite within a few iterations.
    assert run_from_command_line(make_digits_config(num_train_iter=40, num_eval_iter=20, lr=1e6)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: training diverged at iteration ") and len(err.splitlines()) == 1
    assert "lr: 1000000.0" in err
    assert not (tmp_path / "run" / "results.json").exists()
