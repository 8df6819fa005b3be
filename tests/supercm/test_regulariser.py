"""SuperCM composed with real USB learners on digits, on CPU, through the train.py path."""

import json

import pytest
import torch

from usb_asd.cli import _extra_arguments
from usb_asd.config import parse_config
from usb_asd.core.learner import SUPPORTED_LEARNERS
from usb_asd.runner import main

CM = dict(supercm=True, num_labels=10, batch_size=8, uratio=2, num_train_iter=12, num_eval_iter=12, num_log_iter=4)


def _run(argv):
    return main(parse_config(argv, extra_arguments=_extra_arguments))


def _model_state(path):
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def test_fixmatch_with_supercm_trains_and_counts_every_labelled_feature(tmp_path, make_digits_config):
    record = _run(make_digits_config(**{**CM, "algorithm": "fixmatch", "num_train_iter": 20, "num_eval_iter": 10}))
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(record))
    assert on_disk["algorithm"] == "fixmatch" and on_disk["supercm"] is True and on_disk["iterations"] == 20
    state = _model_state(tmp_path / "run" / "latest_model.pth")
    counts = state["cm.class_means.counts"]
    # Exact running mean: every labelled row of every iteration counted once.
    assert counts.sum().item() == 20 * 8
    assert bool((counts > 0).all())  # 1 label per class, 8 per batch: every class seen in 20 batches
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "train/supercm_loss" in log and "train/supercm_loss: 0.0000" not in log


def test_beta_zero_leaves_fixmatch_unchanged_and_beta_changes_it(tmp_path, make_digits_config):
    """With the CM as classifier and beta 0 the run is FixMatch with a linear head: same weights as beta 0 twice."""
    _run(make_digits_config(**CM, algorithm="fixmatch", supercm_beta=0.0, save_name="b0"))
    _run(make_digits_config(**CM, algorithm="fixmatch", supercm_beta=0.0, save_name="b0_again"))
    _run(make_digits_config(**CM, algorithm="fixmatch", supercm_beta=5.0, save_name="b5"))
    a, b, c = (_model_state(tmp_path / n / "latest_model.pth") for n in ("b0", "b0_again", "b5"))
    w = "cm.assign.weight"
    assert torch.equal(a[w], b[w])
    assert not torch.allclose(a[w], c[w])


@pytest.mark.parametrize("algorithm", [a for a in SUPPORTED_LEARNERS if a != "supercm"])
def test_every_supported_learner_runs_with_supercm(tmp_path, make_digits_config, algorithm):
    record = _run(make_digits_config(**{**CM, "algorithm": algorithm, "num_train_iter": 4, "num_eval_iter": 4}))
    assert record["iterations"] == 4 and record["supercm"] is True and record["acc"] is not None


def test_beside_mode_and_learned_centroids_run(tmp_path, make_digits_config):
    record = _run(make_digits_config(**{**CM, "algorithm": "fixmatch", "supercm_head": "beside",
                                        "supercm_centroids": "learned", "supercm_alpha": 2.0, "num_train_iter": 6}))
    state = _model_state(tmp_path / "run" / "latest_model.pth")
    assert "cm.mu" in state and "backbone.classifier.weight" in state
    assert record["iterations"] == 6


@pytest.mark.parametrize("key,value,match", [
    ("supercm_head", "nowhere", "supercm_head"),
    ("supercm_centroids", "magic", "supercm_centroids"),
    ("supercm_beta", -1.0, "supercm_beta"),
    ("supercm_admit_threshold", 1.5, "supercm_admit_threshold"),
    ("supercm_temperature", 0.0, "supercm_temperature"),
    ("supercm_centroid_forward", "sideways", "supercm_centroid_forward"),
    ("supercm_centroid_average", "median", "supercm_centroid_average"),
])
def test_bad_settings_fail_clearly_and_leave_nothing(tmp_path, make_digits_config, key, value, match):
    with pytest.raises(ValueError, match=match):
        _run(make_digits_config(**{**CM, key: value}))
    assert not (tmp_path / "run").exists()


ASD = dict(adaptor="asd", num_labels=0, supercm=True, algorithm="freematch", batch_size=8, uratio=8,
           num_eval_iter=30, num_log_iter=1, asd_cluster_iter=5, asd_round_iter=10, asd_window=40)


def test_asd_labels_become_the_centroids_after_warm_up(tmp_path, make_digits_config):
    record = _run(make_digits_config(**ASD, num_train_iter=30, asd_warmup_iter=10))
    counts = _model_state(tmp_path / "run" / "latest_model.pth")["backbone.cm.class_means.counts"]
    log = (tmp_path / "run" / "log.txt").read_text()
    ready_iterations = log.count("train/asd_labels_ready: 1.0000")
    assert ready_iterations > 0  # a cluster map formed during the run
    # Each iteration with cluster labels adds its 8 labelled instances; the
    # warm-up's placeholder labels never reach the centroids.
    assert counts.sum().item() == ready_iterations * 8
    assert record["supercm"] is True and record["adaptor"] == "asd"


def test_no_centroid_moves_while_asd_warms_up(tmp_path, make_digits_config):
    # A run must use a map before it ends (first map after step 8 < 10): read the checkpoint kept at the warm-up's end.
    _run(make_digits_config(**{**ASD, "num_eval_iter": 8, "asd_cluster_iter": 4}, num_train_iter=10, asd_warmup_iter=8,
                            keep_checkpoints=True))
    counts = _model_state(tmp_path / "run" / "model_it8.pth")["backbone.cm.class_means.counts"]
    assert counts.sum().item() == 0
