"""Progress lines, worker settings, and cells run in worker subprocesses."""

import io
import json
import sys

import pytest

from usb_asd.compare.__main__ import run_from_command_line
from usb_asd.compare.execute import (
    CellJob,
    GridProgress,
    format_duration,
    run_jobs,
    threads_per_worker,
    worker_command,
)
from usb_asd.compare.grid import DONE, Cell, cell_state

from .conftest import write_grid_config


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_format_duration():
    assert format_duration(None) == "?" and format_duration(5.4) == "0:05"
    assert format_duration(125) == "2:05" and format_duration(3 * 3600 + 61) == "3:01:01"


def test_progress_lines_count_cells_and_estimate_the_rest():
    clock, stream = FakeClock(), io.StringIO()
    progress = GridProgress(total=4, workers=1, stream=stream, clock=clock)
    cell = Cell("fixmatch", 0, 0)
    progress.skipped(1, cell, {"acc": 0.5, "nmi": 0.4, "ari": 0.3, "top1": None})
    progress.started(2, Cell("fixmatch", 40, 0), resumed=False)
    clock.now += 60
    progress.finished(2, Cell("fixmatch", 40, 0), {"acc": 0.9, "nmi": 0.8, "ari": 0.7, "top1": 0.91}, 60.0)
    progress.started(3, Cell("freematch", 0, 0), resumed=True)
    clock.now += 30
    progress.failed(3, Cell("freematch", 0, 0), "ValueError: boom")
    lines = stream.getvalue().splitlines()
    assert lines[0] == ("[compare] cell 1/4 already done: fixmatch, ASD (no labels), seed 0: "
                        "ACC 50.0 NMI 40.0 ARI 30.0 top-1 n/a (elapsed 0:00, ETA ?)")
    assert lines[1] == "[compare] cell 2/4 start: fixmatch, 40 labels, seed 0 (elapsed 0:00, ETA ?)"
    # 2 of 4 settled, 60 s per cell so far: 2 x 60 s left.
    assert lines[2].endswith("top-1 91.0 in 1:00 (elapsed 1:00, ETA 2:00)")
    assert lines[3] == "[compare] cell 3/4 resume: freematch, ASD (no labels), seed 0 (elapsed 1:00, ETA 2:00)"
    assert lines[4] == ("[compare] cell 3/4 FAILED: freematch, ASD (no labels), seed 0: ValueError: boom "
                        "(elapsed 1:30, ETA 1:00)")


def test_eta_divides_by_workers():
    progress = GridProgress(total=10, workers=4, stream=io.StringIO(), clock=FakeClock())
    progress.finished(1, Cell("a", 0, 0), {}, 40.0)
    assert progress.eta_seconds() == pytest.approx(40.0 * 9 / 4)


def test_workers_share_the_cores():
    assert threads_per_worker(1, cpu_count=16) == 16
    assert threads_per_worker(4, cpu_count=16) == 4
    assert threads_per_worker(3, cpu_count=2) == 1


def test_worker_command():
    job = CellJob(1, Cell("fixmatch", 0, 0), "/c.yaml", {"resume": True, "load_path": "/m.pth", "gpu": 1}, "/out")
    cmd = worker_command(job, 2)
    assert cmd[:3] == [sys.executable, "-m", "usb_asd.compare.cell"]
    assert cmd[cmd.index("--config") + 1] == "/c.yaml" and cmd[cmd.index("--threads") + 1] == "2"
    assert json.loads(cmd[cmd.index("--overrides") + 1]) == {"resume": True, "load_path": "/m.pth", "gpu": 1}


def test_run_jobs_needs_a_worker():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        run_jobs([], 0, GridProgress(0, stream=io.StringIO()))


def test_cells_run_in_worker_subprocesses(tmp_path, capsys):
    out = tmp_path / "out"
    config = write_grid_config(tmp_path / "grid.yaml", out, learners=["fixmatch"], labels=[40], seeds=[0, 1],
                               classical=[])
    assert run_from_command_line(["--c", config, "--workers", "2"]) == 0
    for seed in (0, 1):
        cell = Cell("fixmatch", 40, seed)
        assert cell_state(str(out), cell) == DONE
        log = (out / "logs" / f"{cell.cell_id}.log").read_text()
        assert "model saved" in log  # the worker's own output went to its log
        assert (out / "runs" / cell.cell_id / "history.json").exists()
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 2
    printed = capsys.readouterr().out
    assert "cell 1/2 start" in printed and "cell 2/2 start" in printed
