"""Checkpoints: written whole, damaged ones named (with an intact older one), other runs' ones refused."""

import errno
import os
from types import SimpleNamespace

import pytest
import torch

from usb_asd.cli import _extra_arguments, run_from_command_line
from usb_asd.config import parse_config
from usb_asd.core import atomic_io, checkpoints
from usb_asd.core.checkpoints import (
    CheckpointError, checkpoint_problem, differing_settings, intact_older_checkpoints, resume_checkpoint,
    run_settings, save_checkpoint,
)
from usb_asd.runner import main


def _run(argv):
    return main(parse_config(argv, extra_arguments=_extra_arguments))


def _args(tmp_path, **overrides):
    settings = dict(algorithm="fixmatch", adaptor=None, supercm=False, net="cnn_small", num_classes=10,
                    asd_num_instances=0, img_size=8, resume=True, load_path=None, resume_fallback=False)
    settings.update(overrides)
    return SimpleNamespace(**settings)


def _save(path, args, it=1):
    """A checkpoint with every entry USB's load_model reads (small stand-ins for the states)."""
    state = {key: {} for key in checkpoints.TRAINING_KEYS}
    state.update(it=it, epoch=1, best_it=0, best_eval_acc=0.0, model={"w": torch.ones(64)})
    save_checkpoint({**state, checkpoints.SETTINGS_KEY: run_settings(args)}, [str(path)])


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_whole_empty_and_truncated_checkpoints(tmp_path):
    path = tmp_path / "latest_model.pth"
    _save(path, _args(tmp_path))
    assert checkpoint_problem(str(path)) is None
    data = bytearray(path.read_bytes())
    data[data.find(torch.ones(64).numpy().tobytes()) + 100] ^= 0xFF  # one flipped bit pattern inside the weights
    path.write_bytes(bytes(data))
    assert "fails its CRC check" in checkpoint_problem(str(path))
    _save(path, _args(tmp_path))
    _truncate(path)
    assert "truncated" in checkpoint_problem(str(path))
    path.write_bytes(b"")
    assert "empty" in checkpoint_problem(str(path))
    assert "does not exist" in checkpoint_problem(str(tmp_path / "none.pth"))


def test_a_damaged_checkpoint_points_to_the_newest_intact_older_one(tmp_path):
    args = _args(tmp_path)
    for it in (10, 20, 30):
        _save(tmp_path / f"model_it{it}.pth", args, it)
    _save(tmp_path / "latest_model.pth", args, 30)
    _truncate(tmp_path / "latest_model.pth")
    _truncate(tmp_path / "model_it30.pth")  # the kill hit both files of the last save
    assert intact_older_checkpoints(str(tmp_path / "latest_model.pth")) == [(str(tmp_path / "model_it20.pth"), 20)]
    assert intact_older_checkpoints(str(tmp_path / "model_it20.pth")) == [(str(tmp_path / "model_it10.pth"), 10)]

    args.load_path = str(tmp_path / "latest_model.pth")
    with pytest.raises(CheckpointError) as caught:
        resume_checkpoint(args)
    message = str(caught.value)
    assert f"checkpoint {args.load_path} (load_path) cannot be resumed from: it is truncated" in message
    assert f"load_path: {tmp_path / 'model_it20.pth'}" in message and "resume_fallback: True" in message

    args.resume_fallback = True
    assert resume_checkpoint(args) == str(tmp_path / "model_it20.pth")


def test_a_missing_checkpoint_points_to_an_intact_older_one(tmp_path):
    _save(tmp_path / "model_it10.pth", _args(tmp_path), 10)
    with pytest.raises(CheckpointError, match=r"it does not exist\. The newest intact older checkpoint is .*model_it10"):
        resume_checkpoint(_args(tmp_path, load_path=str(tmp_path / "latest_model.pth")))


def test_a_damaged_checkpoint_with_nothing_older_says_how_to_keep_some(tmp_path):
    path = tmp_path / "latest_model.pth"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.*keep_checkpoints: True"):
        resume_checkpoint(_args(tmp_path, load_path=str(path)))


def test_another_runs_checkpoint_names_the_settings_that_differ(tmp_path):
    path = tmp_path / "latest_model.pth"
    _save(path, _args(tmp_path, adaptor="asd", num_classes=10))
    args = _args(tmp_path, adaptor="asd", net="resnet18_cifar", img_size=32, asd_num_instances=20, load_path=str(path))
    with pytest.raises(CheckpointError) as caught:
        resume_checkpoint(args)
    message = str(caught.value)
    assert "net: cnn_small -> resnet18_cifar" in message and "img_size: 8 -> 32" in message
    assert "asd_num_instances: 40 -> 20" in message  # n_l as used: 0 meant 4k
    assert "algorithm" not in message.split("(", 1)[1].split(")")[0]  # unchanged settings are not listed
    assert resume_checkpoint(_args(tmp_path, adaptor="asd", load_path=str(path))) == str(path)


def test_old_checkpoints_without_the_record_are_not_judged():
    assert differing_settings(None, {"net": "cnn_small"}) == []
    assert differing_settings({"net": "a"}, {"net": "a", "img_size": 8}) == []


# ---- through real (tiny) training runs -------------------------------------------------

def _fail_second_write_of(name, fail):
    """Patch the checkpoint writer: the second write of ``name`` calls ``fail(handle, data)`` instead."""
    real = atomic_io.write_bytes_atomic
    seen = {"n": 0}

    def write(path, data, setting=None):
        if os.path.basename(path) == name:
            seen["n"] += 1
            if seen["n"] == 2:
                return atomic_io.write_atomic(path, lambda handle: fail(handle, data), setting=setting)
        return real(path, data, setting=setting)

    return write


def _half_then_kill(handle, data):
    handle.write(bytes(data[: len(data) // 2]))
    raise KeyboardInterrupt  # the process is stopped midway through the write


def test_a_write_interrupted_midway_keeps_the_previous_checkpoint_resumable_bit_for_bit(
        tmp_path, make_digits_config, monkeypatch):
    common = dict(num_train_iter=8, num_eval_iter=4, num_log_iter=4)
    _run(make_digits_config(**common, save_name="full"))

    with monkeypatch.context() as patch:
        patch.setattr(checkpoints.atomic_io, "write_bytes_atomic", _fail_second_write_of("latest_model.pth",
                                                                                        _half_then_kill))
        with pytest.raises(KeyboardInterrupt):
            _run(make_digits_config(**common, save_name="cut"))
    folder = tmp_path / "cut"
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]
    assert not (folder / "results.json").exists()
    assert checkpoint_problem(str(folder / "latest_model.pth")) is None
    assert torch.load(folder / "latest_model.pth", map_location="cpu", weights_only=False)["it"] == 4

    _run(make_digits_config(**common, save_name="cut", resume=True, load_path=str(folder / "latest_model.pth")))
    a = torch.load(tmp_path / "full" / "latest_model.pth", map_location="cpu", weights_only=False)
    b = torch.load(folder / "latest_model.pth", map_location="cpu", weights_only=False)
    for key in ("model", "ema_model"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), f"{key}.{name} differs after resuming"


def test_a_full_disk_during_training_is_named_and_keeps_the_previous_checkpoint(
        tmp_path, make_digits_config, monkeypatch, capsys):
    def disk_full(handle, data):
        handle.write(bytes(data[:1000]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoints.atomic_io, "write_bytes_atomic", _fail_second_write_of("latest_model.pth",
                                                                                          disk_full))
    assert run_from_command_line(make_digits_config(num_train_iter=8, num_eval_iter=4, num_log_iter=4)) == 2
    err = capsys.readouterr().err.strip()
    folder = tmp_path / "run"
    assert err.startswith(f"error: cannot write {folder / 'latest_model.pth'} (folder chosen by save_dir): ")
    assert "No space left on device [ENOSPC]" in err and len(err.splitlines()) == 1
    assert sorted(n for n in os.listdir(folder) if n.endswith((".pth", ".tmp", ".json"))) == \
        sorted(n for n in ("latest_model.pth", "model_best.pth") if (folder / n).exists())
    assert torch.load(folder / "latest_model.pth", map_location="cpu", weights_only=False)["it"] == 4


def test_resuming_a_truncated_checkpoint_is_one_clear_error(tmp_path, make_digits_config, capsys):
    _run(make_digits_config(num_train_iter=4, num_eval_iter=2, keep_checkpoints=True))
    latest = tmp_path / "run" / "latest_model.pth"
    _truncate(latest)
    argv = make_digits_config(num_train_iter=8, num_eval_iter=2, resume=True, load_path=str(latest))
    assert run_from_command_line(argv) == 2
    err = capsys.readouterr().err
    assert f"checkpoint {latest} (load_path) cannot be resumed from" in err
    assert "model_it5.pth (iteration 5)" in err  # the save after training (USB stores it + 1)
    record = _run(make_digits_config(num_train_iter=8, num_eval_iter=2, resume=True, load_path=str(latest),
                                     resume_fallback=True))
    assert record["iterations"] == 8


def test_resuming_another_configurations_checkpoint_names_what_differs(tmp_path, make_digits_config):
    _run(make_digits_config(num_train_iter=2, num_eval_iter=2, save_name="a"))
    path = tmp_path / "a" / "latest_model.pth"
    with pytest.raises(CheckpointError, match=r"other settings \(algorithm: fixmatch -> freematch\)"):
        _run(make_digits_config(algorithm="freematch", num_train_iter=4, num_eval_iter=2, resume=True,
                                load_path=str(path), save_name="b"))
    # A checkpoint saved before the settings were recorded: torch's mismatch, with the file named.
    state = torch.load(path, map_location="cpu", weights_only=False)
    del state[checkpoints.SETTINGS_KEY]
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=rf"{path} \(load_path\) does not fit this run's model"):
        _run(make_digits_config(net="resnet18_cifar", num_train_iter=4, num_eval_iter=2, resume=True,
                                load_path=str(path), save_name="c"))
