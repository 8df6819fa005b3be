"""The command end to end: a tiny grid on digits, and a grid killed midway then rerun."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from usb_asd.compare.__main__ import build_parser, parse_setting, run_from_command_line
from usb_asd.compare.grid import DONE, Cell, cell_state
from usb_asd.compare.recording import read_history, read_predictions

from .conftest import REPO, assert_valid_png, write_grid_config

CELLS = [Cell(learner, labels, 0) for learner in ("fixmatch", "freematch") for labels in (0, 40)]
RUN_KEYS = {"learner", "labels", "seed", "acc", "nmi", "ari", "top1", "wall_s", "iterations", "commit"}


def test_tiny_grid_writes_every_output(tiny_grid):
    out = tiny_grid["out"]
    assert tiny_grid["code"] == 0
    payload = json.loads((out / "results.json").read_text())
    assert payload["command"].startswith("python -m usb_asd.compare --c ")
    assert payload["machine"]["cpu_count"] and "commit" in payload and payload["missing"] == []
    runs = {(r["learner"], r["labels"], r["seed"]): r for r in payload["runs"]}
    assert set(runs) == {(c.learner, c.labels, c.seed) for c in CELLS}
    for (learner, labels, _), run in runs.items():
        assert RUN_KEYS <= set(run) and run["iterations"] == 6 and run["wall_s"] > 0
        assert 0.0 <= run["acc"] <= 1.0 and 0.0 <= run["nmi"] <= 1.0
        assert (run["top1"] is None) == (labels == 0)  # cluster ids of ASD runs are not class ids
        assert run["num_labels"] == labels
        cell_record = json.loads((out / run["run_dir"] / "results.json").read_text())
        assert cell_record["acc"] == run["acc"] and cell_record["algorithm"] == learner
        assert (cell_record["num_labels"], cell_record["config"].endswith(f"{run['cell']}.yaml")) == (labels, True)
    assert [r["method"] for r in payload["classical"]] == ["kmeans"]

    markdown = (out / "results.md").read_text()
    assert "| fixmatch | 0 (ASD) | 1 |" in markdown and "| freematch | 40 | 1 |" in markdown
    assert "| kmeans | 0 (pixels) | 1 |" in markdown and "## ASD vs ground truth" in markdown
    gap_row = next(line for line in markdown.splitlines() if line.startswith("| fixmatch | ") and "(" in line
                   and "ASD" not in line and line.count("|") == 4)
    expected = 100 * (runs[("fixmatch", 0, 0)]["acc"] - runs[("fixmatch", 40, 0)]["top1"])
    assert gap_row.split("|")[3].strip().startswith(f"{expected:+.1f}")

    for name in ("accuracy_by_learner.png", "confusion_best_asd.png", "accuracy_over_iterations.png"):
        assert_valid_png(out / "figures" / name)


def test_each_cell_keeps_its_eval_history_and_predictions(tiny_grid):
    out = tiny_grid["out"]
    payload = json.loads((out / "results.json").read_text())
    for run in payload["runs"]:
        folder = out / run["run_dir"]
        evals = read_history(str(folder / "history.json"))
        assert [e["it"] for e in evals] == [3, 6]  # every num_eval_iter and the last iteration
        assert evals[-1]["acc"] == run["acc"]
        predictions = read_predictions(str(folder / "predictions.npz"))
        assert len(predictions["y_true"]) == len(predictions["y_pred"]) == 360
        assert int(predictions["iteration"]) == 6
        from usb_asd.metrics import cluster_accuracy

        assert cluster_accuracy(predictions["y_true"], predictions["y_pred"]) == run["acc"]
        if run["top1"] is not None:
            assert np.mean(predictions["y_true"] == predictions["y_pred"]) == run["top1"]


def test_rerunning_a_finished_grid_trains_nothing(tiny_grid, capsys):
    out = tiny_grid["out"]
    before = {c.cell_id: os.stat(out / "runs" / c.cell_id / "results.json").st_mtime_ns for c in CELLS}
    assert run_from_command_line(["--c", tiny_grid["config"]]) == 0
    printed = capsys.readouterr().out
    assert printed.count("already done") == 4 and " start:" not in printed
    assert before == {c.cell_id: os.stat(out / "runs" / c.cell_id / "results.json").st_mtime_ns for c in CELLS}


def test_bad_settings_exit_with_code_2(tmp_path, capsys):
    config = write_grid_config(tmp_path / "grid.yaml", tmp_path / "out")
    assert run_from_command_line(["--c", config, "--labels", "0", "45"]) == 2
    assert "labels: 45 is not a multiple of num_classes (10)" in capsys.readouterr().err
    assert run_from_command_line(["--c", str(tmp_path / "missing.yaml")]) == 2
    assert not (tmp_path / "out").exists()


def test_a_setting_every_cell_would_fail_on_is_refused_before_anything_is_written(tmp_path, capsys):
    config = write_grid_config(tmp_path / "grid.yaml", tmp_path / "out", labels=[40], classical=[])
    assert run_from_command_line(["--c", config, "--set", "net=no_such_net"]) == 2
    err = capsys.readouterr().err
    assert "key 'net': unknown net 'no_such_net'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_failed_cells_do_not_stop_the_grid_and_exit_1(tmp_path, capsys, monkeypatch):
    from usb_asd.compare import execute

    def fails(config_path, overrides):  # a cell that fails while it trains (what no check can foresee)
        raise RuntimeError("the cell's process died")

    monkeypatch.setattr(execute, "run_cell", fails)
    config = write_grid_config(tmp_path / "grid.yaml", tmp_path / "out", labels=[40], classical=[])
    assert run_from_command_line(["--c", config]) == 1
    captured = capsys.readouterr()
    assert captured.out.count("FAILED") == 2  # both learners tried
    assert "2 cell(s) failed" in captured.err and "fixmatch_gt40_seed0" in captured.err
    assert json.loads((tmp_path / "out" / "results.json").read_text())["missing"] == [
        "fixmatch_gt40_seed0", "freematch_gt40_seed0"]


def test_changed_settings_are_refused_for_started_cells(tiny_grid, capsys):
    assert run_from_command_line(["--c", tiny_grid["config"], "--num_train_iter", "9", "--report-only"]) == 2
    assert "was started with other settings (num_train_iter: 6 -> 9)" in capsys.readouterr().err


def test_flags():
    opts = build_parser().parse_args(["--learners", "a", "b", "--labels", "0", "all", "--seeds", "1", "--gpus",
                                      "0,1", "--set", "lr=0.5", "--report-only"])
    assert opts.learners == ["a", "b"] and opts.labels == ["0", "all"] and opts.seeds == [1] and opts.report_only
    assert parse_setting("lr=0.5") == {"lr": 0.5} and parse_setting("amp=False") == {"amp": False}


def test_killing_the_grid_midway_then_rerunning_completes_it(tmp_path, capsys):
    # Two cells are enough: the kill comes as the first finishes, so the second is the one cut short (cells
    # after it would only start afresh on the rerun, as in tiny_grid); no classical baseline to rerun either.
    cells = CELLS[:2]
    out = tmp_path / "out"
    config = write_grid_config(tmp_path / "grid.yaml", out, learners=("fixmatch",), classical=())
    first = out / "runs" / cells[0].cell_id / "results.json"
    with open(tmp_path / "killed.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "usb_asd.compare", "--c", config], cwd=REPO,
                                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 240
        while not first.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert first.exists(), (tmp_path / "killed.log").read_text()[-3000:]
    snapshot = (first.read_bytes(), first.stat().st_mtime_ns)
    assert [cell_state(str(out), c) for c in cells].count(DONE) < len(cells)  # killed with cells left

    assert run_from_command_line(["--c", config]) == 0
    printed = capsys.readouterr().out
    assert "cell 1/2 already done: fixmatch, ASD (no labels), seed 0" in printed
    assert all(cell_state(str(out), c) == DONE for c in cells)
    assert (first.read_bytes(), first.stat().st_mtime_ns) == snapshot  # the finished cell was not redone
    payload = json.loads((out / "results.json").read_text())
    assert len(payload["runs"]) == 2 and payload["missing"] == []
    assert (out / "results.md").exists() and (out / "figures" / "confusion_best_asd.png").exists()


def test_a_missing_data_dir_is_one_line_and_exit_2(tmp_path, capsys):
    config = write_grid_config(tmp_path / "grid.yaml", tmp_path / "out")
    code = run_from_command_line(["--c", config, "--dataset", "folder", "--data_dir", str(tmp_path / "nowhere"),
                                  "--set", "num_classes=2"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: ") and "nowhere" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_the_command_process_prints_no_traceback(tmp_path):
    config = write_grid_config(tmp_path / "grid.yaml", tmp_path / "out")
    result = subprocess.run([sys.executable, "-m", "usb_asd.compare", "--c", config, "--labels", "0", "45"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "labels: 45" in result.stderr


def test_a_misspelt_key_is_refused_before_any_cell_runs(tmp_path, capsys):
    config = write_grid_config(tmp_path / "grid.yaml", tmp_path / "out")
    assert run_from_command_line(["--c", config, "--set", "asd_windw=3"]) == 2
    err = capsys.readouterr().err
    assert "asd_windw" in err and "did you mean 'asd_window'" in err
    assert not (tmp_path / "out").exists()


def test_an_out_folder_that_cannot_be_written_is_named(tmp_path, capsys):
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output folder should be")
    config = write_grid_config(tmp_path / "grid.yaml", blocker, labels=[40], classical=[])
    assert run_from_command_line(["--c", config, "--report-only"]) == 2
    err = capsys.readouterr().err
    assert f"{blocker} (folder chosen by --out): Not a directory [ENOTDIR]" in err and len(err.splitlines()) == 1
    assert blocker.read_text() == "a file where the output folder should be"
