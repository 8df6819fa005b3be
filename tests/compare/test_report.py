"""Reports are rebuilt from the cells' folders alone (``--report-only``), also in a moved folder."""

import json
import os
import shutil

from usb_asd.compare.__main__ import run_from_command_line
from usb_asd.compare.grid import Cell
from usb_asd.compare.report import best_asd_run, grid_record

from .conftest import assert_valid_png


def test_report_only_rebuilds_everything_without_training(tiny_grid, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(tiny_grid["out"], moved)
    shutil.rmtree(moved / "figures")
    os.remove(moved / "results.md")
    os.remove(moved / "results.json")
    trained = {p: p.stat().st_mtime_ns for p in (moved / "runs").rglob("*")}
    assert run_from_command_line(["--c", tiny_grid["config"], "--out", str(moved), "--report-only"]) == 0
    assert trained == {p: p.stat().st_mtime_ns for p in (moved / "runs").rglob("*")}
    payload = json.loads((moved / "results.json").read_text())
    original = json.loads((tiny_grid["out"] / "results.json").read_text())
    assert [(r["cell"], r["acc"], r["top1"]) for r in payload["runs"]] == \
        [(r["cell"], r["acc"], r["top1"]) for r in original["runs"]]
    assert "## ASD vs ground truth" in (moved / "results.md").read_text()
    for png in (moved / "figures").iterdir():
        assert_valid_png(png)
    assert len(list((moved / "figures").iterdir())) == 3


def test_report_only_with_unfinished_cells_lists_them(tiny_grid, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(tiny_grid["out"], partial)
    os.remove(partial / "runs" / "freematch_gt40_seed0" / "results.json")
    assert run_from_command_line(["--c", tiny_grid["config"], "--out", str(partial), "--report-only"]) == 0
    payload = json.loads((partial / "results.json").read_text())
    assert payload["missing"] == ["freematch_gt40_seed0"] and len(payload["runs"]) == 3
    assert "Not finished (1 cells): freematch_gt40_seed0" in (partial / "results.md").read_text()


def test_grid_record_and_best_asd_run(tmp_path):
    record = {"acc": 0.5, "nmi": 0.4, "ari": 0.3, "top1": 0.1, "num_labels": 0, "wall_s": 2.0, "iterations": 6,
              "commit": "abc", "device": "cpu"}
    asd = grid_record(str(tmp_path), Cell("fixmatch", 0, 1), record)
    assert asd["top1"] is None and asd["cell"] == "fixmatch_asd_seed1" and asd["run_dir"] == "runs/fixmatch_asd_seed1"
    better = grid_record(str(tmp_path), Cell("freematch", 0, 0), {**record, "acc": 0.7})
    gt = grid_record(str(tmp_path), Cell("freematch", 40, 0), {**record, "acc": 0.9, "top1": 0.9})
    assert gt["top1"] == 0.9
    assert best_asd_run(str(tmp_path), [asd, better, gt]) is None  # no predictions saved
    for r in (asd, better, gt):
        os.makedirs(tmp_path / r["run_dir"])
        (tmp_path / r["run_dir"] / "predictions.npz").write_bytes(b"")
    assert best_asd_run(str(tmp_path), [asd, better, gt])["cell"] == "freematch_asd_seed0"
