"""One-line user errors: the --debug switch and worker tracebacks reduced to their message."""

import pytest

from usb_asd.command_errors import USER_ERROR_EXIT, one_line, report, split_debug_flag
from usb_asd.config import ConfigError


def test_debug_flag_is_removed_and_read(monkeypatch):
    monkeypatch.delenv("USB_ASD_DEBUG", raising=False)
    assert split_debug_flag(["--c", "x.yaml", "--debug"]) == (["--c", "x.yaml"], True)
    assert split_debug_flag(["--c", "x.yaml"]) == (["--c", "x.yaml"], False)
    monkeypatch.setenv("USB_ASD_DEBUG", "1")
    assert split_debug_flag([]) == ([], True)


def test_a_worker_traceback_is_cut_to_the_original_message():
    text = ("Caught ImageReadError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
            '  File "x.py", line 1, in f\nusb_asd.data.image_io.ImageReadError: cannot decode image \'/a.png\'\n')
    assert one_line(OSError(text)) == "cannot decode image '/a.png'"
    assert one_line(ValueError("key 'lr' must be a number")) == "key 'lr' must be a number"


def test_report_prints_one_line_or_reraises(capsys):
    assert report(ConfigError("key 'epoch': bad"), debug=False) == USER_ERROR_EXIT
    assert capsys.readouterr().err == "error: key 'epoch': bad\n"
    with pytest.raises(ConfigError):
        report(ConfigError("x"), debug=True)
