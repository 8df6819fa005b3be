"""The user's entry-point config (ASD + FreeMatch, ResNet-18, CIFAR-10) runs on tiny CIFAR files."""

import os

from tests.data.fixtures import write_cifar10
from usb_asd.cli import _extra_arguments
from usb_asd.config import parse_config
from usb_asd.runner import main

CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "config", "asd_freematch_cifar10.yaml")


def test_asd_freematch_cifar10_config_runs_a_few_iterations(tmp_path):
    write_cifar10(tmp_path / "cifar10", per_batch=12, n_test=10)
    shrink = {
        "data_dir": str(tmp_path), "save_dir": str(tmp_path / "out"), "num_train_iter": 4, "epoch": 1,
        "num_eval_iter": 4, "num_log_iter": 2, "batch_size": 2, "uratio": 2, "eval_batch_size": 16,
        "num_workers": 0, "asd_num_instances": 20, "asd_warmup_iter": 2, "asd_cluster_iter": 2,
        "asd_round_iter": 3, "asd_window": 4, "use_tensorboard": False,
    }
    args = parse_config(["--c", CONFIG], extra_arguments=_extra_arguments, overrides=shrink)
    assert args.net == "resnet18_cifar" and args.adaptor == "asd" and args.asd_sampler == "prototype"
    record = main(args)
    assert record["iterations"] == 4 and record["num_eval_samples"] == 10
