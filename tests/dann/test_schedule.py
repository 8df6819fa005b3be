"""DANN's reversal-coefficient and learning-rate schedules."""

import math

import pytest
import torch

from usb_asd.dann.schedule import AnnealedLR, grl_coefficient, lr_anneal_factor, progress


def test_coefficient_at_start_and_end():
    assert grl_coefficient(0.0) == 0.0
    assert grl_coefficient(1.0) == pytest.approx(2.0 / (1.0 + math.exp(-10.0)) - 1.0)
    assert grl_coefficient(1.0) == pytest.approx(0.999909, abs=1e-6)
    assert grl_coefficient(0.5) == pytest.approx(2.0 / (1.0 + math.exp(-5.0)) - 1.0)
    assert grl_coefficient(3.0) == grl_coefficient(1.0)  # progress past the end reads as 1


def test_coefficient_rises_monotonically():
    values = [grl_coefficient(p / 20) for p in range(21)]
    assert all(a < b for a, b in zip(values, values[1:]))


def test_learning_rate_factor_at_start_and_end():
    assert lr_anneal_factor(0.0) == 1.0
    assert lr_anneal_factor(1.0) == pytest.approx(11.0 ** -0.75)
    assert lr_anneal_factor(0.2) == pytest.approx(3.0 ** -0.75)


def test_progress_and_bad_values():
    assert progress(0, 100) == 0.0 and progress(50, 100) == 0.5 and progress(150, 100) == 1.0
    with pytest.raises(ValueError):
        progress(1, 0)
    with pytest.raises(ValueError):
        grl_coefficient(-0.1)
    with pytest.raises(ValueError):
        grl_coefficient(0.5, gamma=0.0)


def test_annealed_lr_drives_a_lambda_lr_and_its_state_is_plain_data():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, AnnealedLR(10))
    for _ in range(10):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 11.0 ** -0.75)
    state = sched.state_dict()
    assert state["last_epoch"] == 10
    assert state["lr_lambdas"] == [{"num_train_iter": 10, "alpha": 10.0, "beta": 0.75}]
