"""Short real training runs on digits, on CPU, through the train.py path."""

import json
import os

import numpy as np
import pytest
import torch

from usb_asd.cli import _extra_arguments
from usb_asd.config import parse_config
from usb_asd.runner import main


def _run(argv):
    return main(parse_config(argv, extra_arguments=_extra_arguments))


def _train_losses(save_dir):
    losses = []
    with open(os.path.join(save_dir, "log.txt")) as handle:
        for line in handle:
            if "train/sup_loss:" in line:
                losses.append(float(line.split("train/sup_loss:")[1].split(",")[0]))
    return losses


@pytest.mark.parametrize("algorithm", ["fixmatch", "freematch"])
def test_short_run_learns_and_writes_results(tmp_path, make_digits_config, algorithm):
    record = _run(make_digits_config(algorithm=algorithm, num_train_iter=60, num_log_iter=5))
    save_dir = tmp_path / "run"
    on_disk = json.loads((save_dir / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(record))
    for key in ("acc", "nmi", "ari", "top1"):
        assert 0.0 <= on_disk[key] <= 1.0
    assert on_disk["iterations"] == 60 and on_disk["algorithm"] == algorithm
    assert on_disk["dataset"] == "digits" and on_disk["seed"] == 0 and on_disk["wall_s"] > 0
    assert on_disk["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    losses = _train_losses(save_dir)
    assert len(losses) == 12
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:2])  # the supervised loss falls
    assert on_disk["acc"] > 0.3  # well above chance (0.1) after 60 iterations


def test_bad_dataset_dir_fails_clearly_and_leaves_nothing(tmp_path, make_digits_config):
    argv = make_digits_config(dataset="cifar10", data_dir=str(tmp_path / "no_cifar"), net="cnn_small")
    with pytest.raises(ValueError, match="cifar10"):
        _run(argv)
    assert not (tmp_path / "run").exists()


def test_unsupported_and_label_free_settings_fail_clearly(tmp_path, make_digits_config):
    with pytest.raises(ValueError, match="num_labels is 0"):
        _run(make_digits_config(num_labels=0))
    with pytest.raises(ValueError, match="num_classes"):
        _run(make_digits_config(num_classes=7, num_labels=7))
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU gloo path")
def test_multiprocessing_distributed_starts_on_cpu(tmp_path, make_digits_config):
    record = _run(
        make_digits_config(
            multiprocessing_distributed=True, num_cpu_procs=2, num_train_iter=6, num_eval_iter=6, num_log_iter=3
        )
    )
    assert record is not None and record["world_size"] == 2 and record["iterations"] == 6
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "6 iteration" in log


@pytest.mark.parametrize("algorithm", __import__("usb_asd.core.learner", fromlist=["x"]).SUPPORTED_LEARNERS)
def test_every_supported_learner_trains_on_this_device(tmp_path, make_digits_config, algorithm):
    record = _run(make_digits_config(algorithm=algorithm, num_train_iter=6, num_eval_iter=6, num_log_iter=3,
                                     batch_size=8, uratio=2))
    assert record["iterations"] == 6 and record["top1"] is not None


def test_tensorboard_logging_through_usb_hooks(tmp_path, make_digits_config):
    _run(make_digits_config(num_train_iter=6, num_eval_iter=3, num_log_iter=3, use_tensorboard=True))
    events = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_a_run_interrupted_after_checkpointing_keeps_its_folder(tmp_path, make_digits_config, monkeypatch):
    from usb_asd.core import hooks

    def interrupted(self, algorithm):
        raise KeyboardInterrupt

    monkeypatch.setattr(hooks.ResultsHook, "after_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(make_digits_config(num_train_iter=4, num_eval_iter=2))
    assert (tmp_path / "run" / "latest_model.pth").exists()


def test_resume_from_the_last_checkpoint_scores_the_final_model(tmp_path, make_digits_config):
    """A run killed after its last checkpoint but before results.json resumes to the same scores."""
    first = _run(make_digits_config(num_train_iter=8, num_eval_iter=8))
    (tmp_path / "run" / "results.json").unlink()
    again = _run(make_digits_config(num_train_iter=8, num_eval_iter=8, resume=True,
                                    load_path=str(tmp_path / "run" / "latest_model.pth")))
    assert again["iterations"] == 8
    for key in ("acc", "nmi", "ari", "top1"):
        assert again[key] == first[key]
    assert json.loads((tmp_path / "run" / "results.json").read_text())["acc"] == first["acc"]
