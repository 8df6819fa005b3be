"""train.py on the user's mistakes: one line naming the setting, exit 2, no traceback, no save folder."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import digits_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASD = dict(adaptor="asd", num_labels=0, algorithm="freematch", num_train_iter=6, num_eval_iter=6,
           asd_warmup_iter=2, asd_cluster_iter=2, asd_round_iter=3)


def _train(argv, env=None):
    return subprocess.run([sys.executable, "train.py", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def _folder(path, count=12, bad=None):
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(path / f"{i:02d}.png")
    if bad:
        (path / bad).write_bytes(b"not an image at all")
    return str(path)


def _config_with(tmp_path, text, **settings):
    argv = digits_config(tmp_path, **settings)
    with open(argv[1], "a") as handle:
        handle.write(text)
    return argv


CASES = {
    "misspelt key": (lambda t: _config_with(t, "asd_windw: 10\n", **ASD), ["asd_windw", "did you mean 'asd_window'",
                                                                           "allow_unknown_keys"]),
    "epoch": (lambda t: digits_config(t, num_train_iter=30, epoch=4), ["num_train_iter (30)", "epoch (4)"]),
    "wrong type": (lambda t: digits_config(t, lr="fast"), ["key 'lr'", "a number"]),
    "k above the data": (lambda t: digits_config(t, **ASD, dataset="folder", num_classes=5,
                                                 data_dir=_folder(t / "imgs"), eval_batch_size=8),
                         ["num_classes is 5", "12 training images"]),
    "missing data dir": (lambda t: digits_config(t, **ASD, dataset="folder", num_classes=2,
                                                 data_dir=str(t / "nowhere")), ["nowhere", "does not exist", "data_dir"]),
    "malformed data dir": (lambda t: digits_config(t, **ASD, dataset="folder", num_classes=2,
                                                   data_dir=_folder(t / "mixed") and _folder(t / "mixed" / "cls")
                                                   and str(t / "mixed")), ["mixed layout"]),
    "unreadable image": (lambda t: digits_config(t, **ASD, dataset="folder", num_classes=2,
                                                 data_dir=_folder(t / "imgs", bad="broken.png")),
                         ["broken.png", "cannot decode image", "skip_bad_images"]),
}


#: The case also run as a real process in the default run; the others are marked slow (~15 s of imports each).
#: Every case runs in process below with the same checks; what only a process adds (the returned 2 becoming
#: the exit status, nothing else printing a traceback) is the same for every case, so one case shows it.
#: The one kept is refused the latest, in the data's decoding (train.py's other real-process tests:
#: test_debug_shows_the_traceback here, and tests/test_bad_inputs.py).
IN_DEFAULT_RUN = ("unreadable image",)


@pytest.mark.parametrize("case", list(CASES))
def test_user_error_in_process_returns_2_with_one_line(tmp_path, case, capsys):
    from usb_asd.cli import run_from_command_line

    make, expected = CASES[case]
    assert run_from_command_line(make(tmp_path)) == 2
    out, err = capsys.readouterr()
    error_lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and "Traceback" not in err + out
    for fragment in expected:
        assert fragment in error_lines[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("case", [pytest.param(c, marks=() if c in IN_DEFAULT_RUN else pytest.mark.slow)
                                  for c in CASES])
def test_user_error_is_one_line_without_traceback_or_folder(tmp_path, case):
    make, expected = CASES[case]
    result = _train(make(tmp_path))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1
    for fragment in expected:
        assert fragment in error_lines[0]
    assert not (tmp_path / "run").exists()


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    from usb_asd.cli import run_from_command_line
    from usb_asd.errors import UserError

    argv = digits_config(tmp_path, num_train_iter=30, epoch=4)
    assert "Traceback" in _train([*argv, "--debug"]).stderr
    # USB_ASD_DEBUG=1 asks for the same thing as the flag: the error leaves the command un-caught, which the
    # process above shows as a traceback. Checked in this process (a second interpreter costs ~15 s of imports).
    monkeypatch.setenv("USB_ASD_DEBUG", "1")
    with pytest.raises(UserError, match=r"epoch \(4\)"):
        run_from_command_line(argv)
    assert not (tmp_path / "run").exists()


def test_allow_unknown_keys_accepts_other_usb_keys(tmp_path):
    from usb_asd.cli import _extra_arguments
    from usb_asd.config import ConfigError, parse_config

    argv = _config_with(tmp_path, "some_key_of_usb_0_4: 3\n")
    with pytest.raises(ConfigError, match="some_key_of_usb_0_4"):
        parse_config(argv, extra_arguments=_extra_arguments)
    assert parse_config([*argv, "--allow_unknown_keys"], extra_arguments=_extra_arguments).some_key_of_usb_0_4 == 3
    with open(argv[1], "a") as handle:
        handle.write("allow_unknown_keys: True\n")
    assert parse_config(argv, extra_arguments=_extra_arguments).some_key_of_usb_0_4 == 3
