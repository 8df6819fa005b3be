"""A run's folder is replaced only once the new run has a checkpoint; a kill at any step leaves one run whole."""

import os

import pytest

from usb_asd.core import run_folder
from usb_asd.core.atomic_io import WriteError
from usb_asd.core.run_folder import RunFolder, incoming_path, recover, replaced_path


def _earlier_run(path):
    path.mkdir()
    (path / "results.json").write_text('{"acc": 0.9}')
    (path / "latest_model.pth").write_bytes(b"old weights")
    return {name: (path / name).read_bytes() for name in os.listdir(path)}


def _files(path):
    return {name: (path / name).read_bytes() for name in os.listdir(path)}


def _new_run(folder):
    folder.prepare()
    with open(os.path.join(folder.current, "latest_model.pth"), "wb") as handle:
        handle.write(b"new weights")


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_the_new_run_takes_the_folder_only_at_commit(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(run_folder, "_exchange", lambda a, b: False)
    final = tmp_path / "run"
    before = _earlier_run(final)
    folder = RunFolder(str(final), staged=True)
    _new_run(folder)
    assert folder.current == incoming_path(str(final)) and _files(final) == before
    folder.commit()
    assert folder.current == str(final) and _files(final) == {"latest_model.pth": b"new weights"}
    assert sorted(os.listdir(tmp_path)) == ["run"]  # nothing hidden left beside it
    folder.commit()  # idempotent
    assert folder.resolve(incoming_path(str(final))) == str(final)


def test_a_run_without_an_earlier_one_is_renamed_in(tmp_path):
    folder = RunFolder(str(tmp_path / "fresh"), staged=True)
    _new_run(folder)
    folder.commit()
    assert _files(tmp_path / "fresh") == {"latest_model.pth": b"new weights"}


def test_a_run_abandoned_before_its_first_checkpoint_leaves_the_earlier_one(tmp_path):
    final = tmp_path / "run"
    before = _earlier_run(final)
    folder = RunFolder(str(final), staged=True)
    _new_run(folder)
    folder.abandon()
    assert _files(final) == before and sorted(os.listdir(tmp_path)) == ["run"]


def test_recovery_after_a_kill_at_each_step_of_a_swap(tmp_path):
    final = tmp_path / "run"
    # Killed before the first checkpoint: the incoming folder goes, the earlier run stays.
    before = _earlier_run(final)
    os.makedirs(incoming_path(str(final)))
    assert recover(str(final)) and _files(final) == before and not os.path.exists(incoming_path(str(final)))
    # Killed between the two renames: the earlier run is put back, the new one dropped.
    os.rename(final, replaced_path(str(final)))
    os.makedirs(incoming_path(str(final)))
    recover(str(final))
    assert _files(final) == before and sorted(os.listdir(tmp_path)) == ["run"]
    # Killed after the swap, while removing the earlier run: its remains go.
    os.makedirs(replaced_path(str(final)))
    recover(str(final))
    assert _files(final) == before and sorted(os.listdir(tmp_path)) == ["run"]
    assert recover(str(final)) == []


def test_a_failed_second_rename_puts_the_earlier_run_back(tmp_path, monkeypatch):
    monkeypatch.setattr(run_folder, "_exchange", lambda a, b: False)
    final = tmp_path / "run"
    before = _earlier_run(final)
    folder = RunFolder(str(final), staged=True)
    _new_run(folder)
    real_rename = os.rename

    def rename(src, dst):
        if str(src) == folder.incoming:
            raise PermissionError(13, "Permission denied")
        return real_rename(src, dst)

    monkeypatch.setattr(run_folder.os, "rename", rename)
    with pytest.raises(WriteError, match=rf"cannot write {final} \(folder chosen by save_dir\): Permission denied"):
        folder.commit()
    assert _files(final) == before and not folder.committed


def test_a_resume_writes_in_place_and_a_file_in_the_way_is_named(tmp_path):
    final = tmp_path / "run"
    _earlier_run(final)
    folder = RunFolder(str(final), staged=False)
    folder.prepare()
    assert folder.current == str(final) and folder.committed
    (tmp_path / "blocker").write_text("a file")
    with pytest.raises(WriteError, match="a file stands where a folder is needed"):
        RunFolder(str(tmp_path / "blocker"), staged=True).prepare()
    assert (tmp_path / "blocker").read_text() == "a file"
