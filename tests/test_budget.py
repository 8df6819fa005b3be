"""num_train_iter: auto: the budget and ASD's schedule follow the pool's size."""

import argparse

import pytest

from usb_asd.budget import AUTO, EPOCHS, MAX_ITERATIONS, MIN_ITERATIONS, auto_budget, int_or_auto, resolve_auto_budget


def test_each_image_is_seen_about_epochs_times_within_the_bounds():
    budget = auto_budget(4000, 224)
    assert budget["num_train_iter"] == 2000  # MNIST-5k's 2,000 steps
    steps = auto_budget(30000, 224)["num_train_iter"]
    assert steps % 50 == 0 and abs(steps * 224 / 30000 - EPOCHS) < 50 * 224 / 30000
    assert auto_budget(60, 64)["num_train_iter"] == MIN_ITERATIONS
    assert auto_budget(10_000_000, 64)["num_train_iter"] == MAX_ITERATIONS


def test_the_schedule_is_a_fixed_share_of_the_run():
    budget = auto_budget(4000, 224)
    assert budget["asd_warmup_iter"] == 1000 and budget["asd_cluster_iter"] == 50 and budget["asd_round_iter"] == 100


def test_only_auto_keys_are_filled_and_integers_are_kept():
    args = argparse.Namespace(num_train_iter=AUTO, batch_size=32, uratio=7, asd_warmup_iter=300,
                              asd_cluster_iter=AUTO, asd_round_iter=AUTO, num_eval_iter=AUTO, num_log_iter=10)
    filled = resolve_auto_budget(args, 4000)
    assert args.num_train_iter == 2000 and args.asd_warmup_iter == 300 and args.num_log_iter == 10
    assert filled == {"num_train_iter": 2000, "asd_cluster_iter": 50, "asd_round_iter": 100, "num_eval_iter": 500}
    given = argparse.Namespace(num_train_iter=800, batch_size=8, uratio=1, asd_warmup_iter=AUTO,
                               asd_cluster_iter=AUTO, asd_round_iter=5, num_eval_iter=100, num_log_iter=AUTO)
    resolve_auto_budget(given, 10)
    assert given.asd_warmup_iter == 400 and given.asd_cluster_iter == 20 and given.num_log_iter == 40


def test_the_config_type_takes_integers_and_auto_only():
    assert int_or_auto("auto") == AUTO and int_or_auto(" AUTO ") == AUTO and int_or_auto(12) == 12
    assert int_or_auto(12.0) == 12 and int_or_auto("7") == 7
    for bad in ("soon", True, 1.5, None):
        with pytest.raises(argparse.ArgumentTypeError):
            int_or_auto(bad)
