"""Running grid cells: in this process, or in worker subprocesses, with progress across the grid.

Every cell is an ordinary plugin run: its config file goes through
:func:`usb_asd.config.parse_config` (with the learner's own arguments, as
``train.py`` does) and :func:`usb_asd.runner.main` trains it and writes its
results.json; :mod:`.recording` adds the eval history and predictions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, TextIO

from .grid import Cell, cell_dir
from .recording import RecordingMixin

#: Called with ``(cell, record)`` when a cell finishes.
OnDone = Callable[[Cell, Dict[str, Any]], None]


@dataclass
class CellJob:
    """A cell to run in this invocation.

    Args:
        index: 1-based position of the cell in the whole grid (for "cell i/N").
        cell: The cell.
        config_path: Its full config (``--c``).
        overrides: Per-invocation keys (``resume``, ``load_path``, ``gpu``).
        out: The grid's output folder.
    """

    index: int
    cell: Cell
    config_path: str
    overrides: Dict[str, Any]
    out: str


@dataclass
class GridOutcome:
    """What an execution produced: records of the cells that finished and the cells that failed."""

    records: Dict[Cell, Dict[str, Any]] = field(default_factory=dict)
    failures: Dict[Cell, str] = field(default_factory=dict)


def format_duration(seconds: Optional[float]) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour); ``?`` when unknown.

    Args:
        seconds: A duration.

    Returns:
        The text.
    """
    if seconds is None:
        return "?"
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class GridProgress:
    """One line per cell start and finish: ``cell i/N``, elapsed time and ETA of the grid.

    The ETA is the mean time of the cells finished in this invocation times the
    cells left, divided by the cells that run at once.

    Args:
        total: Cells in the grid.
        workers: Cells run at once.
        stream: Where lines go (stdout by default).
        clock: Seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, total: int, workers: int = 1, stream: Optional[TextIO] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.workers = max(1, workers)
        self.stream = stream
        self.clock = clock
        self.start = clock()
        self.settled = 0  # finished, skipped or failed
        self.durations: List[float] = []

    def eta_seconds(self) -> Optional[float]:
        """Estimated seconds until every cell is settled; ``None`` before a cell has finished here."""
        left = self.total - self.settled
        if left <= 0:
            return 0.0
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        return mean * left / min(self.workers, left)

    def _emit(self, index: int, text: str) -> None:
        elapsed = format_duration(self.clock() - self.start)
        eta = format_duration(self.eta_seconds())
        line = f"[compare] cell {index}/{self.total} {text} (elapsed {elapsed}, ETA {eta})"
        print(line, file=self.stream or sys.stdout, flush=True)

    def skipped(self, index: int, cell: Cell, record: Dict[str, Any]) -> None:
        """A cell an earlier invocation finished."""
        self.settled += 1
        self._emit(index, f"already done: {cell.describe()}: {score_text(record)}")

    def started(self, index: int, cell: Cell, resumed: bool) -> None:
        """A cell starts (or resumes from its checkpoint)."""
        self._emit(index, f"{'resume' if resumed else 'start'}: {cell.describe()}")

    def finished(self, index: int, cell: Cell, record: Dict[str, Any], seconds: float) -> None:
        """A cell finished in this invocation after ``seconds``."""
        self.settled += 1
        self.durations.append(seconds)
        self._emit(index, f"done: {cell.describe()}: {score_text(record)} in {format_duration(seconds)}")

    def failed(self, index: int, cell: Cell, message: str) -> None:
        """A cell failed; the grid goes on with the others."""
        self.settled += 1
        self._emit(index, f"FAILED: {cell.describe()}: {message}")


def score_text(record: Dict[str, Any]) -> str:
    """``ACC 85.3 NMI .. ARI .. top-1 ..`` in percent, ``n/a`` for missing scores.

    Args:
        record: A cell's results.json record.

    Returns:
        The text.
    """
    def pct(key: str) -> str:
        value = record.get(key)
        return "n/a" if value is None else f"{100 * value:.1f}"

    return f"ACC {pct('acc')} NMI {pct('nmi')} ARI {pct('ari')} top-1 {pct('top1')}"


def read_cell_record(out: str, cell: Cell) -> Dict[str, Any]:
    """A finished cell's results.json record.

    Args:
        out: The grid's output folder.
        cell: The cell.

    Returns:
        The record.
    """
    with open(os.path.join(cell_dir(out, cell), "results.json"), encoding="utf-8") as handle:
        return json.load(handle)


def run_cell(config_path: str, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """Train one cell in this process, through the plugin's ``train.py`` path.

    Args:
        config_path: The cell's config file.
        overrides: Per-invocation keys (``resume``, ``load_path``, ``gpu``).

    Returns:
        The results.json record.
    """
    from .. import plugin, runner
    from ..cli import _extra_arguments
    from ..config import parse_config

    plugin.register()
    args = parse_config(["--c", config_path], extra_arguments=_extra_arguments, overrides=overrides)
    record = runner.main(args, extra_mixins=(RecordingMixin,))
    if record is None:
        raise RuntimeError(f"{config_path}: the run returned no results record")
    return record


def run_in_process(jobs: List[CellJob], progress: GridProgress, on_done: Optional[OnDone] = None) -> GridOutcome:
    """Run cells one after another in this process (``--workers 1``).

    Args:
        jobs: Cells to run, in order.
        progress: Progress lines.
        on_done: Called after each finished cell.

    Returns:
        Records and failures.
    """
    outcome = GridOutcome()
    for job in jobs:
        progress.started(job.index, job.cell, resumed=bool(job.overrides.get("resume")))
        start = time.monotonic()
        try:
            record = run_cell(job.config_path, job.overrides)
        except Exception as error:  # noqa: BLE001 - one failed cell must not stop the grid
            traceback.print_exc()
            outcome.failures[job.cell] = f"{type(error).__name__}: {error}"
            progress.failed(job.index, job.cell, outcome.failures[job.cell])
            continue
        outcome.records[job.cell] = record
        progress.finished(job.index, job.cell, record, time.monotonic() - start)
        if on_done is not None:
            on_done(job.cell, record)
    return outcome


def threads_per_worker(workers: int, cpu_count: Optional[int] = None) -> int:
    """Torch threads each worker may use so that workers do not oversubscribe the CPU cores.

    Args:
        workers: Cells run at once.
        cpu_count: Cores (``os.cpu_count()`` by default).

    Returns:
        At least 1.
    """
    cores = cpu_count or os.cpu_count() or 1
    return max(1, cores // max(1, workers))


def worker_command(job: CellJob, threads: int) -> List[str]:
    """The command line of a worker subprocess running ``job``.

    Args:
        job: The cell.
        threads: Torch threads of the worker.

    Returns:
        ``[python, -m, usb_asd.compare.cell, ...]``.
    """
    return [sys.executable, "-m", "usb_asd.compare.cell", "--config", job.config_path,
            "--overrides", json.dumps(job.overrides), "--threads", str(threads)]


def _worker_env(threads: int) -> Dict[str, str]:
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # The worker imports this very checkout, installed or not.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    # BLAS/OpenMP pools are sized at import, before torch.set_num_threads runs.
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[key] = str(threads)
    return env


def log_path(out: str, cell: Cell) -> str:
    """Where a worker's output goes (appended to: a resumed cell keeps its earlier log)."""
    return os.path.join(out, "logs", f"{cell.cell_id}.log")


def run_in_workers(jobs: List[CellJob], workers: int, progress: GridProgress,
                   on_done: Optional[OnDone] = None, poll_s: float = 0.2) -> GridOutcome:
    """Run cells in up to ``workers`` subprocesses at once, one cell per subprocess.

    Args:
        jobs: Cells to run, in order.
        workers: Subprocesses at once.
        progress: Progress lines.
        on_done: Called after each finished cell.
        poll_s: How often finished workers are collected.

    Returns:
        Records and failures.
    """
    threads = threads_per_worker(workers)
    env = _worker_env(threads)
    pending = list(jobs)
    running: Dict[subprocess.Popen, tuple] = {}
    outcome = GridOutcome()
    try:
        while pending or running:
            while pending and len(running) < workers:
                job = pending.pop(0)
                os.makedirs(os.path.dirname(log_path(job.out, job.cell)), exist_ok=True)
                log = open(log_path(job.out, job.cell), "ab")
                progress.started(job.index, job.cell, resumed=bool(job.overrides.get("resume")))
                proc = subprocess.Popen(worker_command(job, threads), stdout=log, stderr=subprocess.STDOUT, env=env)
                running[proc] = (job, log, time.monotonic())
            time.sleep(poll_s)
            for proc in [p for p in running if p.poll() is not None]:
                job, log, start = running.pop(proc)
                log.close()
                _collect(job, proc.returncode, time.monotonic() - start, outcome, progress, on_done)
    finally:
        # Interrupted (Ctrl-C, an error here): stop the workers this call started;
        # their checkpoints stay for the next invocation.
        for proc, (_, log, _) in running.items():
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
            log.close()
    return outcome


def _collect(job: CellJob, returncode: int, seconds: float, outcome: GridOutcome, progress: GridProgress,
             on_done: Optional[OnDone]) -> None:
    results = os.path.join(cell_dir(job.out, job.cell), "results.json")
    if returncode != 0 or not os.path.isfile(results):
        outcome.failures[job.cell] = f"worker exited with code {returncode}; see {log_path(job.out, job.cell)}"
        progress.failed(job.index, job.cell, outcome.failures[job.cell])
        return
    record = read_cell_record(job.out, job.cell)
    outcome.records[job.cell] = record
    progress.finished(job.index, job.cell, record, seconds)
    if on_done is not None:
        on_done(job.cell, record)


def run_jobs(jobs: List[CellJob], workers: int, progress: GridProgress,
             on_done: Optional[OnDone] = None) -> GridOutcome:
    """Run cells in this process (``workers == 1``) or in worker subprocesses.

    Args:
        jobs: Cells to run, in order.
        workers: Cells at once.
        progress: Progress lines.
        on_done: Called after each finished cell.

    Returns:
        Records and failures.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        return run_in_process(jobs, progress, on_done)
    return run_in_workers(jobs, workers, progress, on_done)
