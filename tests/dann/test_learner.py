"""The dann learner through the train.py path on digits -> digits_restyled, on CPU."""

import dataclasses
import math
from pathlib import Path
from typing import Tuple

import pytest
import torch

from usb_asd import plugin
from usb_asd.cli import _extra_arguments
from usb_asd.config import ConfigError, parse_config
from usb_asd.dann.learner import DANN, DANN_ARGUMENTS
from usb_asd.dann.schedule import AnnealedLR
from usb_asd.runner import main

DA = dict(algorithm="dann", num_labels=-1, da_target_dataset="digits_restyled", uratio=1, batch_size=8,
          num_train_iter=8, num_eval_iter=8, num_log_iter=1, dann_hidden=16)


def _run(argv):
    return main(parse_config(argv, extra_arguments=_extra_arguments))


def _checkpoint(path):
    return torch.load(path, map_location="cpu", weights_only=False)


def test_registered_in_usbs_algorithm_registry():
    from semilearn.algorithms import name2alg
    from semilearn.core.utils import ALGORITHMS

    plugin.register()
    assert ALGORITHMS["dann"] is DANN and name2alg["dann"] is DANN
    assert {a.name for a in DANN.get_argument()} == {a.name for a in DANN_ARGUMENTS}


def test_trains_logs_and_keeps_the_discriminator_out_of_the_model(tmp_path, make_digits_config):
    record = _run(make_digits_config(**DA))
    assert record["algorithm"] == "dann" and record["target_dataset"] == "digits_restyled"
    assert record["num_eval_samples"] == 360 and record["iterations"] == 8
    log = (tmp_path / "run" / "log.txt").read_text()
    for key in ("train/dann_domain_loss", "train/dann_disc_acc", "train/dann_coeff", "train/sup_loss"):
        assert key in log
    assert "train/dann_coeff: 0.0000" in log  # p = 0 at the first iteration
    ckpt = _checkpoint(tmp_path / "run" / "latest_model.pth")
    assert set(ckpt["discriminator"]) == {f"net.{i}.{w}" for i in (0, 2, 4) for w in ("weight", "bias")}
    for key in ("model", "ema_model"):  # neither the model nor its EMA holds the discriminator
        assert not any("discriminator" in name or name.startswith("net.") for name in ckpt[key])
    # The discriminator is a param group of the optimiser, annealed with the model.
    assert len(ckpt["optimizer"]["param_groups"]) == 3  # USB's decay / no-decay groups + discriminator
    assert ckpt["scheduler"]["lr_lambdas"][-1] == {"num_train_iter": 8, "alpha": 10.0, "beta": 0.75}
    assert ckpt["scheduler"]["last_epoch"] == 8


@pytest.mark.parametrize("use_cat", [True, False])
def test_one_step_gives_the_discriminator_gradients_and_the_logged_values(make_digits_config, use_cat):
    from semilearn.core.utils import get_net_builder

    from usb_asd.core.learner import build_learner

    plugin.register()
    args = parse_config(make_digits_config(**{**DA, "num_train_iter": 10, "use_cat": use_cat}),
                        extra_arguments=_extra_arguments)
    args.distributed, args.procs_per_node = False, 1
    learner = build_learner(args, get_net_builder(args.net, False))
    learner.it = 5  # p = 0.5
    torch.manual_seed(0)
    x_lb, x_ulb = torch.randn(8, 3, 8, 8), torch.randn(8, 3, 8, 8) + 1.0
    out, log = learner.train_step(x_lb, torch.arange(8) % 10, x_ulb)
    out["loss"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.discriminator.parameters())
    assert log["train/dann_coeff"] == pytest.approx(2 / (1 + math.exp(-5.0)) - 1, rel=1e-6)
    assert 0.0 <= log["train/dann_disc_acc"] <= 1.0
    assert log["train/total_loss"] == pytest.approx(log["train/sup_loss"] + log["train/dann_domain_loss"], rel=1e-5)
    # The features the CM would see are returned for both domains, with gradients.
    assert out["feat"]["x_lb"].requires_grad and out["feat"]["x_ulb_w"].shape[0] == 8


def test_resume_restores_discriminator_and_schedule_exactly(tmp_path, make_digits_config):
    common = {**DA, "num_train_iter": 8, "num_eval_iter": 4}
    full = _run(make_digits_config(**common, save_name="full", keep_checkpoints=True))
    middle = _checkpoint(tmp_path / "full" / "model_it4.pth")
    assert middle["scheduler"]["last_epoch"] == 4 and middle["it"] == 4
    resumed = _run(make_digits_config(**common, save_name="resumed", resume=True,
                                      load_path=str(tmp_path / "full" / "model_it4.pth")))
    a = _checkpoint(tmp_path / "full" / "latest_model.pth")
    b = _checkpoint(tmp_path / "resumed" / "latest_model.pth")
    for key in ("model", "ema_model", "discriminator"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), f"{key}.{name} differs after resume"
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 8
    assert full["top1"] == resumed["top1"]


def test_weight_zero_is_source_only_and_never_forwards_the_target(tmp_path, make_digits_config):
    """With dann_loss_weight 0 no target row reaches the model: BatchNorm statistics come
    from the source alone, so they equal those of a run with another target."""
    _run(make_digits_config(**{**DA, "dann_loss_weight": 0.0}, save_name="a"))
    _run(make_digits_config(**{**DA, "dann_loss_weight": 0.0, "da_target_dataset": "mnist5k"}, save_name="b"))
    a = _checkpoint(tmp_path / "a" / "latest_model.pth")["model"]
    b = _checkpoint(tmp_path / "b" / "latest_model.pth")["model"]
    for name in a:
        assert torch.equal(a[name], b[name]), name
    log = (tmp_path / "a" / "log.txt").read_text()
    assert "train/dann_domain_loss" not in log


@pytest.mark.parametrize("overrides,match", [
    ({"uratio": 2}, "uratio: 1"),
    ({"da_target_dataset": None}, "da_target_dataset"),
    ({"dann_lr_schedule": "step"}, "dann_lr_schedule"),
    ({"dann_loss_weight": -1.0}, "dann_loss_weight"),
])
def test_bad_settings_fail_clearly_and_leave_nothing(tmp_path, make_digits_config, overrides, match):
    with pytest.raises(ConfigError, match=match):
        _run(make_digits_config(**{**DA, **overrides}))
    assert not (tmp_path / "run").exists()


def test_cosine_schedule_option(tmp_path, make_digits_config):
    _run(make_digits_config(**DA, dann_lr_schedule="cosine"))
    ckpt = _checkpoint(tmp_path / "run" / "latest_model.pth")
    assert "lr_lambdas" not in ckpt["scheduler"] or ckpt["scheduler"]["lr_lambdas"][-1] is None
    assert not isinstance(ckpt["scheduler"].get("lr_lambdas", [None])[-1], dict)


def test_annealed_lr_is_what_the_optimizer_used():
    assert AnnealedLR(8)(8) == pytest.approx(11.0 ** -0.75)


CM = dict(supercm=True, supercm_beta=0.372)


@pytest.fixture(scope="module")
def dann_supercm_run(tmp_path_factory) -> Tuple[Path, dict]:
    """Save folder and record of one dann + SuperCM run, read by two tests (the same settings, trained once)."""
    from tests.conftest import digits_config

    tmp = tmp_path_factory.mktemp("dann_supercm")
    return tmp / "run", _run(digits_config(tmp, **DA, **CM))


def test_dann_with_supercm_centroids_count_only_source_rows(dann_supercm_run):
    folder, record = dann_supercm_run
    assert record["supercm"] is True and record["algorithm"] == "dann"
    ckpt = _checkpoint(folder / "latest_model.pth")
    counts = ckpt["model"]["cm.class_means.counts"]
    # Exact mean: 8 iterations x 8 labelled source rows; the 8 target rows per batch never count.
    assert counts.sum().item() == 8 * 8
    log = (folder / "log.txt").read_text()
    assert "train/supercm_loss" in log and "train/dann_domain_loss" in log
    assert "discriminator" in ckpt and not any(k.startswith("net.") for k in ckpt["model"])


def test_dann_with_supercm_public_centroids_count_only_source_rows(tmp_path, make_digits_config):
    _run(make_digits_config(**DA, **CM, supercm_centroid_forward="eval", supercm_centroid_average="iteration"))
    counts = _checkpoint(tmp_path / "run" / "latest_model.pth")["model"]["cm.class_means.counts"]
    assert counts.sum().item() == 8 * 8


@pytest.fixture
def scrambled_target():
    """digits_restyled with its training labels replaced (test labels kept for scoring)."""
    import numpy as np

    from usb_asd.data.digits import load_digits_restyled
    from usb_asd.data.registry import DATASETS, DatasetSpec, register_dataset

    real = load_digits_restyled()
    rng = np.random.default_rng(0)
    fake = dataclasses.replace(real, name="restyled_scrambled",
                               train_targets=rng.permutation(real.train_targets))
    register_dataset(DatasetSpec("restyled_scrambled", lambda root, k: fake, "glyph", None, needs_dir=False))
    yield "restyled_scrambled"
    DATASETS.pop("restyled_scrambled")


def test_target_training_labels_are_never_read(tmp_path, make_digits_config, scrambled_target, dann_supercm_run):
    """Scrambling the target's training labels changes nothing: same weights, centroids and discriminator."""
    real, _ = dann_supercm_run  # the same settings with the real target labels
    _run(make_digits_config(**{**DA, "da_target_dataset": scrambled_target}, **CM, save_name="scrambled"))
    a = _checkpoint(real / "latest_model.pth")
    b = _checkpoint(tmp_path / "scrambled" / "latest_model.pth")
    for key in ("model", "discriminator"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), f"{key}.{name}"
