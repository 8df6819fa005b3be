"""Eval history and predictions of a cell, including across an interrupted and resumed run."""

import json

import numpy as np
import pytest

from usb_asd.compare import recording
from usb_asd.compare.__main__ import run_from_command_line
from usb_asd.compare.grid import RESUME, Cell, cell_state
from usb_asd.compare.recording import append_history, read_history, read_predictions, write_predictions

from .conftest import write_grid_config


def test_history_replaces_evaluations_past_a_resume_point(tmp_path):
    path = str(tmp_path / "history.json")
    assert read_history(path) == []
    for it in (3, 6, 9):
        append_history(path, {"it": it, "acc": it / 10})
    append_history(path, {"it": 6, "acc": 0.0})  # resumed from the checkpoint at 3
    assert read_history(path) == [{"it": 3, "acc": 0.3}, {"it": 6, "acc": 0.0}]


def test_predictions_round_trip(tmp_path):
    path = str(tmp_path / "predictions.npz")
    write_predictions(path, np.array([0, 1, 2]), np.array([2, 2, 1]), 6)
    data = read_predictions(path)
    assert data["y_true"].tolist() == [0, 1, 2] and data["y_pred"].tolist() == [2, 2, 1] and int(data["iteration"]) == 6


def _one_cell_grid(tmp_path):
    return write_grid_config(tmp_path / "grid.yaml", tmp_path / "out", learners=["fixmatch"], labels=[40],
                             classical=[])


def test_a_cell_interrupted_mid_run_resumes_from_its_checkpoint(tmp_path, monkeypatch, capsys):
    config, cell = _one_cell_grid(tmp_path), Cell("fixmatch", 40, 0)
    folder = tmp_path / "out" / "runs" / cell.cell_id
    original = recording.write_predictions

    def interrupted(path, y_true, y_pred, iteration):
        if iteration == 6:  # after history.json got iteration 6, before the checkpoint of 6
            raise KeyboardInterrupt
        original(path, y_true, y_pred, iteration)

    monkeypatch.setattr(recording, "write_predictions", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_from_command_line(["--c", config])
    assert cell_state(str(tmp_path / "out"), cell) == RESUME
    assert [e["it"] for e in read_history(str(folder / "history.json"))] == [3, 6]
    monkeypatch.setattr(recording, "write_predictions", original)
    capsys.readouterr()
    assert run_from_command_line(["--c", config]) == 0
    assert "cell 1/1 resume: fixmatch, 40 labels, seed 0" in capsys.readouterr().out
    evals = read_history(str(folder / "history.json"))
    assert [e["it"] for e in evals] == [3, 6]  # the evaluation past the checkpoint was redone, not duplicated
    record = json.loads((folder / "results.json").read_text())
    assert record["iterations"] == 6 and record["acc"] == pytest.approx(evals[-1]["acc"])
    assert int(read_predictions(str(folder / "predictions.npz"))["iteration"]) == 6


def test_a_cell_killed_after_its_last_checkpoint_still_gets_scores(tmp_path, monkeypatch):
    from usb_asd.core import hooks

    config, cell = _one_cell_grid(tmp_path), Cell("fixmatch", 40, 0)
    folder = tmp_path / "out" / "runs" / cell.cell_id
    original = hooks.ResultsHook.after_run

    def interrupted(self, algorithm):
        raise KeyboardInterrupt

    monkeypatch.setattr(hooks.ResultsHook, "after_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_from_command_line(["--c", config])
    final = read_history(str(folder / "history.json"))[-1]
    assert final["it"] == 6 and cell_state(str(tmp_path / "out"), cell) == RESUME
    monkeypatch.setattr(hooks.ResultsHook, "after_run", original)
    assert run_from_command_line(["--c", config]) == 0
    record = json.loads((folder / "results.json").read_text())
    assert record["iterations"] == 6
    # Nothing was left to train: the scores come from evaluating the final checkpoint.
    for key in ("acc", "nmi", "ari", "top1"):
        assert record[key] == pytest.approx(final[key])
    assert [e["it"] for e in read_history(str(folder / "history.json"))] == [3, 6]
