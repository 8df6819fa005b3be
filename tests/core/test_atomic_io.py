"""Atomic writes: a failing writer or a full disk leaves the previous file whole and no temporary file."""

import errno
import os

import pytest

from usb_asd.core import atomic_io
from usb_asd.core.atomic_io import (
    WriteError, ensure_writable_dir, remove_stale_temporaries, write_atomic, write_bytes_atomic, write_text_atomic,
)
from usb_asd.errors import UserError


def test_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "a" / "results.json"
    write_text_atomic(str(path), "first")
    write_text_atomic(str(path), "second")
    assert path.read_text() == "second"
    assert os.listdir(path.parent) == ["results.json"]
    assert (path.stat().st_mode & 0o777) == 0o666 & ~_umask()  # not mkstemp's 0600


def test_the_file_and_its_folder_are_synced_before_and_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic_io.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(atomic_io.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    write_bytes_atomic(str(tmp_path / "x.bin"), b"abc")
    assert events == ["fsync", "replace", "fsync"]  # data, then rename, then the folder entry


def test_a_writer_failing_midway_keeps_the_previous_file(tmp_path):
    path = tmp_path / "latest_model.pth"
    write_bytes_atomic(str(path), b"good checkpoint")

    def half_then_crash(handle):
        handle.write(b"half a chec")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        write_atomic(str(path), half_then_crash)
    assert path.read_bytes() == b"good checkpoint"
    assert os.listdir(tmp_path) == ["latest_model.pth"]


def test_a_full_disk_is_named_and_leaves_no_truncated_file(tmp_path, monkeypatch):
    path = tmp_path / "model_best.pth"
    write_bytes_atomic(str(path), b"previous")

    def disk_full(handle, data):
        handle.write(bytes(data[:3]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic_io, "_write_all", disk_full)
    with pytest.raises(WriteError) as caught:
        write_bytes_atomic(str(path), b"new content", setting="save_dir")
    message = str(caught.value)
    assert isinstance(caught.value, UserError)
    assert str(path) in message and "save_dir" in message and "ENOSPC" in message and "disk is full" in message
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["model_best.pth"]


def test_a_file_where_the_folder_should_be_is_named(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("not a folder")
    with pytest.raises(WriteError, match=r"runs \(folder chosen by save_dir\).*a file stands where a folder"):
        ensure_writable_dir(str(blocker / "run"), "save_dir")
    with pytest.raises(WriteError, match="--out"):
        write_text_atomic(str(blocker / "results.md"), "x", setting="--out")


def test_a_read_only_folder_is_named(tmp_path, monkeypatch):
    # Injected: the tests may run as root, who can write anywhere.
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(atomic_io.tempfile, "mkstemp", refused)
    with pytest.raises(WriteError, match=r"save_dir.*Permission denied \[EACCES\].*no permission"):
        ensure_writable_dir(str(tmp_path / "run"), "save_dir")


def test_an_error_names_a_setting_once(tmp_path):
    error = WriteError(str(tmp_path), OSError(errno.ENOSPC, "No space left on device"))
    assert "--out" in str(error.under_setting("--out"))
    assert error.under_setting("--out").under_setting("save_dir").setting == "--out"


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    for name in (".latest_model.pth.ab_c12.tmp", "latest_model.pth", ".hidden", "notes.tmp"):
        (tmp_path / name).write_text("x")
    assert remove_stale_temporaries(str(tmp_path)) == [".latest_model.pth.ab_c12.tmp"]
    assert sorted(os.listdir(tmp_path)) == [".hidden", "latest_model.pth", "notes.tmp"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_SLOW_WRITER = """
import sys, time
from usb_asd.core.atomic_io import write_atomic

def slow(handle):
    for i in range(1000):
        handle.write(b"n" * 65536)
        handle.flush()
        if i == 3:
            print("writing", flush=True)
        time.sleep(0.01)

write_atomic(sys.argv[1], slow)
"""


def test_a_process_killed_while_it_writes_leaves_the_previous_file(tmp_path):
    import signal
    import subprocess
    import sys

    path = tmp_path / "latest_model.pth"
    write_bytes_atomic(str(path), b"the good checkpoint")
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    try:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == b"the good checkpoint"
    leftovers = [name for name in os.listdir(tmp_path) if name != "latest_model.pth"]
    assert len(leftovers) == 1 and (tmp_path / leftovers[0]).stat().st_size >= 4 * 65536  # the half-written temp
    assert remove_stale_temporaries(str(tmp_path)) == leftovers
    assert os.listdir(tmp_path) == ["latest_model.pth"]
