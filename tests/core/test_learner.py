"""Composition with USB learners: hooks, device routing, evaluation scores."""

import numpy as np
import pytest
import torch

from usb_asd import plugin
from usb_asd.cli import _extra_arguments
from usb_asd.config import parse_config
from usb_asd.core.hooks import DeviceTimerHook
from usb_asd.core.learner import build_learner, compose_learner, score_predictions


@pytest.fixture
def learner(make_digits_config):
    from semilearn.core.utils import get_net_builder

    plugin.register()
    args = parse_config(make_digits_config(), extra_arguments=_extra_arguments)
    args.distributed, args.procs_per_node = False, 1
    return build_learner(args, get_net_builder(args.net, False))


def test_hooks_are_device_agnostic_and_ordered(learner):
    names = [h.name for h in learner._hooks]
    assert isinstance(learner.hooks_dict["TimerHook"], DeviceTimerHook)
    assert names.index("StepEndStampHook") == names.index("ParamUpdateHook") + 1
    assert names[-1] == "ResultsHook" or learner.hooks_dict["ResultsHook"].priority == 100


def test_process_batch_filters_to_train_step_arguments(learner):
    out = learner.process_batch(
        x_lb=torch.zeros(2, 3, 8, 8), y_lb=torch.zeros(2, dtype=torch.long), idx_lb=torch.arange(2),
        x_ulb_w=torch.zeros(2, 3, 8, 8), x_ulb_s=torch.zeros(2, 3, 8, 8), idx_ulb=torch.arange(2),
    )
    assert set(out) == {"x_lb", "y_lb", "x_ulb_w", "x_ulb_s"}  # FixMatch's train_step arguments
    assert all(v.device == learner.device for v in out.values())


def test_class_name_says_what_it_is():
    from semilearn.algorithms.freematch import FreeMatch

    from usb_asd.core.learner import PluginLearnerMixin

    cls = compose_learner("freematch")
    assert cls.__name__ == "FreeMatch" and cls.__mro__[1:3] == (PluginLearnerMixin, FreeMatch)
    assert compose_learner("freematch") is cls


def test_unsupported_learners_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="dash.*cuda"):
        compose_learner("dash")
    with pytest.raises(ValueError, match="not a USB learner"):
        compose_learner("nomatch")


def test_scores_from_logits():
    logits = np.eye(3)[[2, 2, 0, 0, 1, 1]] * 5.0
    y = np.array([0, 0, 1, 1, 2, 2])
    scores = score_predictions(logits, y)
    assert scores["eval/top-1-acc"] == 0.0 and scores["eval/acc"] == 1.0 and scores["eval/nmi"] == pytest.approx(1.0)
    unknown = score_predictions(logits, np.array([0, 0, -1, 1, 2, 2]))
    assert all(np.isnan(v) for v in unknown.values())
