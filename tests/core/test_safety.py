"""Checks before a run writes anything: an unwritable save_dir named, a run that never leaves ASD's warm-up refused."""

import errno
import os

import pytest

from usb_asd.cli import _extra_arguments, run_from_command_line
from usb_asd.config import ConfigError, parse_config
from usb_asd.core import atomic_io
from usb_asd.runner import main

ASD = dict(adaptor="asd", num_labels=0, batch_size=8, uratio=2, num_eval_iter=8, asd_cluster_iter=2,
           asd_round_iter=4, asd_window=10)


def _run(argv):
    return main(parse_config(argv, extra_arguments=_extra_arguments))


def test_a_save_dir_that_is_a_file_is_named(tmp_path, make_digits_config, capsys):
    blocker = tmp_path / "results"
    blocker.write_text("a file, not a folder")
    assert run_from_command_line(make_digits_config(save_dir=str(blocker), num_train_iter=2)) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: cannot write {blocker} (folder chosen by save_dir): Not a directory [ENOTDIR]; "
                   "a file stands where a folder is needed; move it or choose another folder")
    assert blocker.read_text() == "a file, not a folder"


def test_a_read_only_save_dir_is_named_and_nothing_is_left(tmp_path, make_digits_config, monkeypatch, capsys):
    def refused(*args, **kwargs):  # injected: tests may run as root, who can write anywhere
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(atomic_io.tempfile, "mkstemp", refused)
    assert run_from_command_line(make_digits_config(num_train_iter=2)) == 2
    err = capsys.readouterr().err
    assert f"cannot write {tmp_path / 'run'} (folder chosen by save_dir): Permission denied [EACCES]" in err
    assert not (tmp_path / "run").exists()  # the folder the run created is removed again


def test_leftovers_of_a_killed_write_are_cleared_when_a_run_starts(tmp_path, make_digits_config):
    folder = tmp_path / "run"
    _run(make_digits_config(num_train_iter=2, num_eval_iter=2))
    (folder / ".latest_model.pth.k1ll3d.tmp").write_bytes(b"half a checkpoint")
    _run(make_digits_config(num_train_iter=4, num_eval_iter=2, resume=True, load_path=str(folder / "latest_model.pth")))
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_a_run_shorter_than_the_asd_warm_up_is_refused(tmp_path, make_digits_config):
    with pytest.raises(ConfigError, match=r"asd_warmup_iter \(8\) must be smaller than num_train_iter \(8\)"):
        _run(make_digits_config(**ASD, num_train_iter=8, asd_warmup_iter=8))
    with pytest.raises(ConfigError, match="asd_warmup_iter"):
        _run(make_digits_config(**ASD, num_train_iter=100))  # the default warm-up is 200
    assert not (tmp_path / "run").exists()
    # Without the adaptor the key means nothing and is not checked.
    assert _run(make_digits_config(num_train_iter=2, num_eval_iter=2, asd_warmup_iter=8))["iterations"] == 2


def test_a_run_whose_first_map_comes_after_its_last_step_is_refused(tmp_path, make_digits_config):
    # Warm-up 5 < 8 steps, but the first re-clustering is due after step 6 and, 3 steps late, installs
    # its map after step 9: the learner would never train on cluster labels.
    with pytest.raises(ConfigError, match=r"after step 9 .*asd_recluster_lag \(3\).*num_train_iter \(8\)"):
        _run(make_digits_config(**{**ASD, "asd_cluster_iter": 6}, num_train_iter=8, asd_warmup_iter=5,
                                asd_recluster_lag=3))
    # No lag: the first map comes after step 8, the last one.
    with pytest.raises(ConfigError, match=r"after step 8 .*num_train_iter \(8\)"):
        _run(make_digits_config(**{**ASD, "asd_cluster_iter": 8}, num_train_iter=8, asd_warmup_iter=5))
    assert not (tmp_path / "run").exists()


def test_ema_initial_share_is_the_decay_to_the_number_of_updates():
    from usb_asd.core.safety import ema_initial_share

    assert ema_initial_share(0.99, 200) == pytest.approx(0.1340, abs=1e-4)
    assert ema_initial_share(0.99, 1000) == pytest.approx(4.3e-5, rel=0.01)
    assert ema_initial_share(0.0, 5) == 0.0


def test_a_run_too_short_for_its_ema_is_warned_about(caplog):
    import argparse
    import logging

    from usb_asd.core.safety import warn_if_ema_lags

    with caplog.at_level(logging.WARNING, logger="usb_asd"):
        assert warn_if_ema_lags(argparse.Namespace(ema_m=0.99, num_train_iter=200))
        assert "13%" in caplog.text and "ema_m" in caplog.text
        caplog.clear()
        assert not warn_if_ema_lags(argparse.Namespace(ema_m=0.99, num_train_iter=1000))
        assert caplog.text == ""
