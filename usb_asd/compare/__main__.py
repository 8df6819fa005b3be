"""``python -m usb_asd.compare`` / ``usb-asd-compare``: run a comparison grid and report it.

    python -m usb_asd.compare --c config/compare_digits.yaml
    python -m usb_asd.compare --c config/compare_digits.yaml --learners fixmatch freematch \\
        --labels 0 40 all --seeds 0 1 --num_train_iter 500 --out saved_models/cmp --workers 2
    python -m usb_asd.compare --c config/compare_digits.yaml --report-only

Flags override the grid config. Rerunning the same command resumes: finished
cells are read, interrupted ones continue from their checkpoint.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from typing import Any, Dict, List, Optional

from ..config import ConfigError
from ..core.atomic_io import WriteError
from .classical import cached_classical
from .execute import CellJob, GridProgress, format_duration, read_cell_record, run_jobs
from .grid import (
    DONE,
    NEW,
    Cell,
    GridSpec,
    apply_flags,
    assign_gpus,
    cell_config_path,
    cell_settings,
    cell_state,
    check_cell_config,
    load_grid_config,
    plan_cells,
    resolve_num_labels,
    run_overrides,
    validate_spec,
    write_cell_config,
)
from .report import collect_records, write_report, write_results_json

DEFAULT_CONFIG = "config/compare_digits.yaml"


def parse_setting(text: str) -> Dict[str, Any]:
    """``KEY=VALUE`` (``--set``) -> ``{key: value}``, the value read as a YAML scalar.

    Args:
        text: The flag's value.

    Returns:
        A one-key mapping.
    """
    from ruamel.yaml import YAML

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects KEY=VALUE (e.g. num_eval_iter=100), got {text!r}")
    return {key.strip(): YAML(typ="safe", pure=True).load(value) if value.strip() else None}


def build_parser() -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog="usb-asd-compare",
        description="Compare USB learners with and without ground truth (ASD): run a grid, "
                    "write results.json, results.md and figures.",
    )
    p.add_argument("--c", default=DEFAULT_CONFIG, help=f"grid config (default {DEFAULT_CONFIG})")
    p.add_argument("--learners", nargs="+", help="USB learners, e.g. fixmatch freematch")
    p.add_argument("--labels", nargs="+", help="ground-truth label counts: 0 (ASD, no labels), 40, ..., all")
    p.add_argument("--seeds", nargs="+", type=int, help="seeds, e.g. 0 1 2")
    p.add_argument("--num_train_iter", type=int, help="training iterations of every cell")
    p.add_argument("--out", help="output folder")
    p.add_argument("--workers", type=int, help="cells run at once, each in its own subprocess when > 1")
    p.add_argument("--gpus", help="GPU ids the cells are spread over round-robin, e.g. 0,1")
    p.add_argument("--dataset", help="dataset key of every cell")
    p.add_argument("--data_dir", help="data_dir key of every cell")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any train.py key for every cell, e.g. --set num_eval_iter=100 (repeatable)")
    p.add_argument("--report-only", "--report_only", dest="report_only", action="store_true",
                   help="train nothing: rebuild results.json, results.md and figures from finished cells")
    return p


def spec_from_args(opts: argparse.Namespace) -> GridSpec:
    """The grid config with the command-line flags applied.

    Args:
        opts: Parsed flags.

    Returns:
        The validated spec.
    """
    settings: Dict[str, Any] = {}
    for text in opts.set:
        settings.update(parse_setting(text))
    spec = apply_flags(
        load_grid_config(opts.c), learners=opts.learners, labels=opts.labels, seeds=opts.seeds,
        num_train_iter=opts.num_train_iter, out=opts.out, workers=opts.workers, gpus=opts.gpus,
        dataset=opts.dataset, data_dir=opts.data_dir, settings=settings,
    )
    validate_spec(spec)
    return spec


def prepare_cell_configs(spec: GridSpec, cells: List[Cell], states: Dict[Cell, str], report_only: bool) -> None:
    """Write the config of every cell that will run; check those of finished cells against the grid.

    Every check comes before the first write, so a refused grid leaves ``--out`` as it was.

    Args:
        spec: The grid.
        cells: Its cells.
        states: Each cell's :func:`~usb_asd.compare.grid.cell_state`.
        report_only: Nothing will run: only check.
    """
    counts = {label: resolve_num_labels(spec, label) for label in spec.labels}
    to_write = []
    for cell in cells:
        settings = cell_settings(spec, cell, counts[cell.labels])
        path = cell_config_path(spec.out, cell)
        if states[cell] == DONE or report_only:
            # Only checked: what is reported must be what the grid asks for.
            if os.path.isfile(path):
                check_cell_config(path, settings)
        else:
            to_write.append((path, settings))
    for path, settings in to_write:
        write_cell_config(path, settings)


def check_cells_can_run(spec: GridSpec, cells: List[Cell], states: Dict[Cell, str]) -> None:
    """The checks every run makes before it writes, made once for the grid before anything is written.

    Settings (once per learner, with and without ASD, and GPU) and the data (listing and a decode of
    every image, once): a mistake that would fail every cell stops the command with one line instead
    of failing cell after cell. What concerns one cell (its checkpoint) is left to that cell's run,
    so the other cells still run.

    Raises:
        UserError: the first problem, naming the setting or file.
    """
    from ..cli import _extra_arguments
    from ..config import parse_config
    from ..data.pool_check import forget_prepared
    from ..preflight import check_data
    from ..runner import validate_args

    to_run = [cell for cell in cells if states[cell] != DONE]
    gpus = assign_gpus(to_run, spec.gpus)
    counts = {label: resolve_num_labels(spec, label) for label in spec.labels}
    seen, first = set(), None
    for cell in to_run:
        if (cell.learner, cell.is_asd, gpus[cell]) in seen:
            continue
        seen.add((cell.learner, cell.is_asd, gpus[cell]))
        settings = {**cell_settings(spec, cell, counts[cell.labels]),
                    **run_overrides(spec.out, cell, NEW, gpus[cell])}
        args = parse_config([], extra_arguments=_extra_arguments, overrides=settings)
        validate_args(args)
        first = first or args
    if first is not None:
        try:
            check_data(first)  # the grid's one data set
        finally:
            forget_prepared()  # each cell's run checks again in its own process


def plan_jobs(spec: GridSpec, cells: List[Cell], states: Dict[Cell, str]) -> List[CellJob]:
    """The unfinished cells as jobs: resumed from a checkpoint where there is one, GPUs round-robin.

    Args:
        spec: The grid.
        cells: Its cells, in order.
        states: Each cell's state.

    Returns:
        Jobs in grid order.
    """
    to_run = [cell for cell in cells if states[cell] != DONE]
    gpus = assign_gpus(to_run, spec.gpus)
    return [CellJob(cells.index(cell) + 1, cell, cell_config_path(spec.out, cell),
                    run_overrides(spec.out, cell, states[cell], gpus[cell]), spec.out) for cell in to_run]


def run_remaining(spec: GridSpec, cells: List[Cell], states: Dict[Cell, str], classical: List[Dict[str, Any]],
                  command: str) -> Dict[str, str]:
    """Run every unfinished cell, with progress; results.json is refreshed after each.

    Args:
        spec: The grid.
        cells: Its cells.
        states: Each cell's state.
        classical: Classical baseline runs (for results.json).
        command: This invocation's command line.

    Returns:
        ``{cell id: why it failed}``.
    """
    progress = GridProgress(len(cells), spec.workers)
    for index, cell in enumerate(cells, start=1):
        if states[cell] == DONE:
            progress.skipped(index, cell, read_cell_record(spec.out, cell))

    def on_done(cell: Cell, record: Dict[str, Any]) -> None:
        records, missing = collect_records(spec.out, cells)
        write_results_json(spec, records, classical, missing, command)

    outcome = run_jobs(plan_jobs(spec, cells, states), spec.workers, progress, on_done)
    return {cell.cell_id: message for cell, message in outcome.failures.items()}


def check_cell_keys(spec: GridSpec, cells: List[Cell]) -> None:
    """Refuse, before anything runs, a key no cell's learner knows (a typo in the grid config or ``--set``).

    Raises:
        ConfigError: naming the key and the nearest known one (``allow_unknown_keys: True`` accepts it).
    """
    from ..cli import _extra_arguments
    from ..config import add_arguments, build_parser, check_known_keys

    counts = {label: resolve_num_labels(spec, label) for label in spec.labels}
    checked = set()
    for cell in cells:
        if (cell.learner, cell.is_asd) in checked:
            continue
        checked.add((cell.learner, cell.is_asd))
        settings = cell_settings(spec, cell, counts[cell.labels])
        if settings.get("allow_unknown_keys") in (True, "True", "true"):
            continue
        parser = build_parser()
        add_arguments(parser, _extra_arguments(argparse.Namespace(algorithm=cell.learner)))
        check_known_keys(parser, settings, f"grid {spec.out} (cell {cell.cell_id})")


def run_compare(spec: GridSpec, command: str, report_only: bool = False) -> int:
    """Run what is left of the grid, then write the report from every finished cell.

    Args:
        spec: A validated grid.
        command: This invocation's command line, for results.json.
        report_only: Train nothing, only rebuild the report.

    Returns:
        Exit code: 0, or 1 when a cell failed.
    """
    started = time.monotonic()
    cells = plan_cells(spec)
    check_cell_keys(spec, cells)
    states = {cell: cell_state(spec.out, cell) for cell in cells}
    if not report_only:
        check_cells_can_run(spec, cells, states)
    prepare_cell_configs(spec, cells, states, report_only)
    classical = cached_classical(spec.out, spec.dataset, spec.data_dir, spec.classical, spec.seeds,
                                 spec.setting("num_classes"))
    failures = {} if report_only else run_remaining(spec, cells, states, classical, command)
    written = write_report(spec, cells, classical, command)
    print(f"[compare] wrote {', '.join(written)} ({format_duration(time.monotonic() - started)})", flush=True)
    if failures:
        print(f"[compare] {len(failures)} cell(s) failed; rerun the same command to retry them:", file=sys.stderr)
        for cell_id, message in failures.items():
            print(f"  {cell_id}: {message}", file=sys.stderr)
        return 1
    return 0


def run_from_command_line(argv: Optional[List[str]] = None) -> int:
    """Parse flags, run the grid and report; returns a process exit code.

    Args:
        argv: Flags (``sys.argv[1:]`` when ``None``).

    Returns:
        0, 1 (a cell failed) or 2 (a setting is wrong).
    """
    from ..command_errors import report, split_debug_flag
    from ..errors import UserError

    argv, debug = split_debug_flag(list(sys.argv[1:] if argv is None else argv))
    opts = build_parser().parse_args(argv)
    spec = None
    created = False
    try:
        spec = spec_from_args(opts)
        created = not os.path.exists(spec.out)
        return run_compare(spec, "python -m usb_asd.compare " + shlex.join(argv), report_only=opts.report_only)
    except WriteError as error:  # every file the command writes lies under --out
        if debug:
            raise
        print(f"error: {error.under_setting('--out')}", file=sys.stderr)
        return 2
    except UserError as error:  # ConfigError, GridError, a data set's error...
        if created and spec is not None:
            _remove_if_nothing_ran(spec.out)
        return report(error, debug)


def _remove_if_nothing_ran(out: str) -> None:
    """Remove an output folder this invocation created when no cell wrote results (only cell configs)."""
    import shutil

    if not os.path.isdir(out):
        return
    for _, _, files in os.walk(out):
        if any(name in ("results.json", "latest_model.pth") for name in files):
            return
    shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    """Console-script entry point (``usb-asd-compare``)."""
    sys.exit(run_from_command_line())


if __name__ == "__main__":
    main()
