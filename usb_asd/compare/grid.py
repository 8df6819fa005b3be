"""The comparison grid: its config, its cells, each cell's settings and on-disk state.

A grid config (``config/compare_digits.yaml``) has four sections:

* ``grid``: ``learners``, ``labels`` (ground-truth label counts; ``0`` means
  ASD, no labels; ``all`` every training label, see :func:`resolve_num_labels`), ``seeds``,
  ``out``, and optionally ``workers``, ``gpus`` and ``classical``;
* ``base``: the dataset-level settings every cell shares (any ``train.py`` key);
* ``asd``: the ``asd_*`` keys of the ASD cells;
* ``learners``: per-learner keys (a learner's own hyperparameters).

A cell is one ordinary training run; its folder is ``<out>/runs/<cell id>``
(USB's ``save_dir/save_name``) and its full config ``<out>/configs/<cell id>.yaml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from ruamel.yaml import YAML

from ..baselines import CLASSICAL_METHODS
from ..config import ConfigError, load_yaml
from ..core.atomic_io import write_text_atomic

#: A ground-truth label setting: a count (``0`` = ASD, no labels) or :data:`ALL_LABELS`.
LabelSetting = Union[int, str]

ALL_LABELS = "all"
ASD_LABELS = 0

#: Cell states on disk.
DONE, RESUME, NEW = "done", "resume", "new"

#: Keys the grid sets per cell; a config section that sets them would be silently overridden.
PER_CELL_KEYS = ("algorithm", "seed", "num_labels", "adaptor", "save_dir", "save_name", "resume", "load_path",
                 "overwrite")

#: Keys that may change between invocations without changing a cell's result
#: (where the data and the output folder live, which GPU, how a run is restarted).
RUNTIME_KEYS = ("data_dir", "save_dir", "gpu", "resume", "load_path", "num_workers")

_SECTIONS = ("grid", "base", "asd", "learners")
_GRID_KEYS = ("learners", "labels", "seeds", "out", "workers", "gpus", "classical")


class GridError(ConfigError):
    """A grid setting is wrong or a cell's folder disagrees with the grid; the message names the setting."""


@dataclass(frozen=True)
class Cell:
    """One run of the grid: a learner, a ground-truth label setting and a seed."""

    learner: str
    labels: LabelSetting
    seed: int

    @property
    def is_asd(self) -> bool:
        """Whether the cell trains without labels (ASD builds its pseudo-labels)."""
        return self.labels == ASD_LABELS

    @property
    def label_tag(self) -> str:
        """``asd``, ``gt40`` or ``gtall``: the label part of the cell id."""
        return "asd" if self.is_asd else f"gt{self.labels}"

    @property
    def cell_id(self) -> str:
        """The cell's folder and USB ``save_name``, e.g. ``fixmatch_gt40_seed0``."""
        return f"{self.learner}_{self.label_tag}_seed{self.seed}"

    def describe(self) -> str:
        """A short human description for progress lines."""
        labels = "ASD (no labels)" if self.is_asd else f"{self.labels} labels"
        return f"{self.learner}, {labels}, seed {self.seed}"


@dataclass
class GridSpec:
    """Everything a grid invocation needs.

    Args:
        learners: USB learner names.
        labels: Label settings, see :data:`LabelSetting`.
        seeds: Seeds of every (learner, labels) pair.
        out: Output folder.
        base: Settings every cell shares (``dataset``, ``num_train_iter``, ...).
        asd: ``asd_*`` keys of the ASD cells.
        learner_settings: Per-learner keys.
        overrides: Keys set last on every cell (``--set``).
        workers: Cells run at once (1: in this process).
        gpus: GPU ids cells are assigned to round-robin; empty: USB's ``gpu`` from ``base``.
        classical: Classical baselines scored on the same test split.
        config_path: The grid config file, for the record.
    """

    learners: List[str]
    labels: List[LabelSetting]
    seeds: List[int]
    out: str
    base: Dict[str, Any]
    asd: Dict[str, Any] = field(default_factory=dict)
    learner_settings: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    overrides: Dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    gpus: List[int] = field(default_factory=list)
    classical: List[str] = field(default_factory=lambda: list(CLASSICAL_METHODS))
    config_path: str = ""

    @property
    def dataset(self) -> str:
        """The ``dataset`` key every cell trains on."""
        return str(self.setting("dataset"))

    @property
    def data_dir(self) -> str:
        """The ``data_dir`` key (USB's default ``./data``)."""
        return str(self.setting("data_dir", "./data"))

    @property
    def num_train_iter(self) -> int:
        """Training iterations of every cell."""
        return int(self.setting("num_train_iter"))

    def setting(self, key: str, default: Any = None) -> Any:
        """A shared setting: ``--set`` first, then ``base``."""
        return self.overrides.get(key, self.base.get(key, default))


# ---- parsing and validation ------------------------------------------------


def parse_label_setting(value: Any, source: str = "labels") -> LabelSetting:
    """Read one label setting: a count ``>= 0`` or ``all``.

    Args:
        value: A YAML or command-line value (``0``, ``40``, ``"40"``, ``"all"``).
        source: Where it came from, for the error message.

    Returns:
        An ``int`` or :data:`ALL_LABELS`.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == ALL_LABELS:
            return ALL_LABELS
        if text.isdigit():
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return int(value)
    raise GridError(f"{source}: each entry must be a label count >= 0 (0 = ASD, no labels) or 'all', got {value!r}")


def parse_gpus(value: Any, source: str = "gpus") -> List[int]:
    """Read GPU ids from ``"0,1"``, ``[0, 1]``, ``0`` or ``None``.

    Args:
        value: The setting.
        source: Where it came from, for the error message.

    Returns:
        The ids (empty: no assignment).
    """
    if value is None or value == "" or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
        return []
    if isinstance(value, str):
        items: Iterable[Any] = value.split(",")
    else:
        items = value if isinstance(value, list) else [value]
    gpus = []
    for item in items:
        text = str(item).strip()
        if isinstance(item, bool) or not text.isdigit():
            raise GridError(f"{source}: expected GPU ids such as 0,1 (integers >= 0), got {value!r}")
        gpus.append(int(text))
    return gpus


def _int_list(value: Any, key: str) -> List[int]:
    if not isinstance(value, list) or not value:
        raise GridError(f"grid config: key 'grid.{key}' must be a non-empty list of integers, got {value!r}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise GridError(f"grid config: key 'grid.{key}' must hold integers, got {item!r}")
    return list(value)


def _mapping(data: Dict[str, Any], key: str, source: str) -> Dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise GridError(f"{source}: section '{key}' must be a mapping of keys to values, got {type(value).__name__}")
    return dict(value)


def spec_from_config(data: Dict[str, Any], source: str) -> GridSpec:
    """Build a :class:`GridSpec` from a loaded grid config.

    Args:
        data: The YAML mapping.
        source: The file name, for error messages.

    Returns:
        The spec (validate it with :func:`validate_spec` once command-line flags are applied).
    """
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise GridError(f"{source}: unknown section(s) {unknown}; a grid config has {list(_SECTIONS)}")
    grid = _mapping(data, "grid", source)
    unknown = sorted(set(grid) - set(_GRID_KEYS))
    if unknown:
        raise GridError(f"{source}: unknown key(s) {['grid.' + k for k in unknown]}; known: {list(_GRID_KEYS)}")
    learners = grid.get("learners")
    if not isinstance(learners, list) or not learners or not all(isinstance(x, str) for x in learners):
        raise GridError(
            f"{source}: key 'grid.learners' must be a non-empty list of USB learner names, got {learners!r}"
        )
    labels = grid.get("labels")
    if not isinstance(labels, list) or not labels:
        raise GridError(f"{source}: key 'grid.labels' must be a non-empty list such as [0, 40, all], got {labels!r}")
    per_learner = _mapping(data, "learners", source)
    for name, settings in per_learner.items():
        if not isinstance(settings, dict):
            raise GridError(f"{source}: key 'learners.{name}' must be a mapping of that learner's keys")
    workers = grid.get("workers", 1)
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise GridError(f"{source}: key 'grid.workers' must be an integer >= 1, got {workers!r}")
    classical = grid.get("classical", list(CLASSICAL_METHODS))
    if not isinstance(classical, list):
        raise GridError(f"{source}: key 'grid.classical' must be a list (empty for none), got {classical!r}")
    return GridSpec(
        learners=list(learners),
        labels=[parse_label_setting(v, f"{source}: key 'grid.labels'") for v in labels],
        seeds=_int_list(grid.get("seeds"), "seeds"),
        out=str(grid.get("out") or "./saved_models/compare"),
        base=_mapping(data, "base", source),
        asd=_mapping(data, "asd", source),
        learner_settings={k: dict(v) for k, v in per_learner.items()},
        workers=workers,
        gpus=parse_gpus(grid.get("gpus"), f"{source}: key 'grid.gpus'"),
        classical=list(classical),
        config_path=source,
    )


def load_grid_config(path: str) -> GridSpec:
    """Read a grid config file into a :class:`GridSpec`.

    Args:
        path: The YAML file (``--c``).

    Returns:
        The spec, before command-line flags.
    """
    return spec_from_config(load_yaml(path), path)


def apply_flags(
    spec: GridSpec,
    learners: Optional[Sequence[str]] = None,
    labels: Optional[Sequence[Any]] = None,
    seeds: Optional[Sequence[int]] = None,
    num_train_iter: Optional[int] = None,
    out: Optional[str] = None,
    workers: Optional[int] = None,
    gpus: Optional[str] = None,
    dataset: Optional[str] = None,
    data_dir: Optional[str] = None,
    settings: Optional[Dict[str, Any]] = None,
) -> GridSpec:
    """Command-line flags override the grid config; ``None`` leaves a setting as it is.

    Returns:
        A new spec.
    """
    changes: Dict[str, Any] = {}
    if learners is not None:
        changes["learners"] = list(learners)
    if labels is not None:
        changes["labels"] = [parse_label_setting(v, "--labels") for v in labels]
    if seeds is not None:
        changes["seeds"] = list(seeds)
    if out is not None:
        changes["out"] = out
    if workers is not None:
        changes["workers"] = workers
    if gpus is not None:
        changes["gpus"] = parse_gpus(gpus, "--gpus")
    base = dict(spec.base)
    for key, value in (("num_train_iter", num_train_iter), ("dataset", dataset), ("data_dir", data_dir)):
        if value is not None:
            base[key] = value
    return replace(spec, base=base, overrides={**spec.overrides, **(settings or {})}, **changes)


def validate_spec(spec: GridSpec) -> None:
    """Check a grid before anything runs; errors name the setting and what was expected.

    Args:
        spec: The grid, after command-line flags.
    """
    from semilearn.core.utils import ALGORITHMS

    from ..asd.adaptor import ASD_UNSUPPORTED_LEARNERS
    from ..core.learner import UNSUPPORTED_LEARNERS

    for name, values in (("learners", spec.learners), ("labels", spec.labels), ("seeds", spec.seeds)):
        if not values:
            raise GridError(f"{name}: at least one value is needed")
        if len(set(values)) != len(values):
            raise GridError(f"{name}: values must be distinct, got {list(values)}")
    for learner in spec.learners:
        if learner in UNSUPPORTED_LEARNERS:
            raise GridError(f"learners: '{learner}' is not supported by usb_asd: {UNSUPPORTED_LEARNERS[learner]}")
        if learner not in ALGORITHMS:
            raise GridError(f"learners: '{learner}' is not a USB learner; known: {sorted(ALGORITHMS.keys())}")
        if ASD_LABELS in spec.labels and learner in ASD_UNSUPPORTED_LEARNERS:
            raise GridError(
                f"learners: '{learner}' cannot run the ASD cells (labels 0): {ASD_UNSUPPORTED_LEARNERS[learner]}"
            )
    unknown = sorted(set(spec.learner_settings) - set(spec.learners) - set(ALGORITHMS.keys()))
    if unknown:
        raise GridError(f"learners section: {unknown} are not USB learners; known: {sorted(ALGORITHMS.keys())}")
    if spec.workers < 1:
        raise GridError(f"workers must be >= 1, got {spec.workers}")
    if "dataset" not in spec.base and "dataset" not in spec.overrides:
        raise GridError("base: key 'dataset' is required (the dataset every cell trains on)")
    num_train_iter = spec.setting("num_train_iter")
    if isinstance(num_train_iter, bool) or not isinstance(num_train_iter, int) or num_train_iter < 1:
        raise GridError(f"num_train_iter must be an integer >= 1 (base or --num_train_iter), got {num_train_iter!r}")
    num_classes = spec.setting("num_classes", 10)
    for label in spec.labels:
        if isinstance(label, int) and label > 0 and label % int(num_classes) != 0:
            raise GridError(
                f"labels: {label} is not a multiple of num_classes ({num_classes}); the labelled split "
                "draws the same number of labels from every class"
            )
    for section, settings in (("base", spec.base), ("--set", spec.overrides), ("asd", spec.asd),
                              *((f"learners.{k}", v) for k, v in spec.learner_settings.items())):
        clash = sorted(set(settings) & set(PER_CELL_KEYS))
        if clash:
            raise GridError(
                f"{section}: key(s) {clash} are set per cell by the grid (learners, labels, seeds, out); remove them"
            )
    not_asd = sorted(k for k in spec.asd if not k.startswith("asd_"))
    if not_asd:
        raise GridError(f"asd: section holds only asd_* keys (the ASD cells' settings), got {not_asd}")
    warmup = spec.asd.get("asd_warmup_iter", 200)  # ASD's default
    if ASD_LABELS in spec.labels and isinstance(warmup, int) and warmup >= num_train_iter:
        raise GridError(f"asd: asd_warmup_iter ({warmup}) must be smaller than num_train_iter ({num_train_iter}); "
                        "the ASD cells would end before ever training on their cluster labels")
    unknown = sorted(set(spec.classical) - set(CLASSICAL_METHODS))
    if unknown:
        raise GridError(f"classical: {unknown} are not classical baselines; known: {sorted(CLASSICAL_METHODS)}")
    for gpu in spec.gpus:
        if gpu < 0:
            raise GridError(f"gpus: ids must be >= 0, got {gpu}")


# ---- cells -------------------------------------------------------------------


def plan_cells(spec: GridSpec) -> List[Cell]:
    """Every cell of the grid, seed-major, then learners, then labels.

    Seed-major so that a grid stopped part-way already holds whole seeds of
    every learner and label setting: its table compares like with like.

    Args:
        spec: The grid.

    Returns:
        The cells in the order they run.
    """
    return [Cell(learner, labels, seed) for seed in spec.seeds for learner in spec.learners for labels in spec.labels]


def assign_gpus(cells: Sequence[Cell], gpus: Sequence[int]) -> Dict[Cell, Optional[int]]:
    """Spread cells over GPUs round-robin, in run order.

    Args:
        cells: Cells to run.
        gpus: GPU ids; empty: no assignment (``None``: the config's ``gpu`` key stays).

    Returns:
        ``{cell: gpu id or None}``.
    """
    return {cell: (gpus[i % len(gpus)] if gpus else None) for i, cell in enumerate(cells)}


def resolve_num_labels(spec: GridSpec, labels: LabelSetting) -> int:
    """The ``num_labels`` value of a label setting.

    Args:
        spec: The grid.
        labels: A label setting (a count, or ``all``).

    Returns:
        The count a cell trains with; ``all`` is the plugin's
        :data:`usb_asd.data.usb_datasets.ALL_LABELS` (every training image labelled).
    """
    if labels == ALL_LABELS:
        from ..data.usb_datasets import ALL_LABELS as EVERY_TRAINING_LABEL

        return int(EVERY_TRAINING_LABEL)
    return int(labels)


def runs_dir(out: str) -> str:
    """USB's ``save_dir`` of every cell."""
    return os.path.join(out, "runs")


def cell_dir(out: str, cell: Cell) -> str:
    """A cell's run folder (USB's ``save_dir/save_name``)."""
    return os.path.join(runs_dir(out), cell.cell_id)


def cell_config_path(out: str, cell: Cell) -> str:
    """Where a cell's full config is kept; outside the run folder, which a fresh start replaces."""
    return os.path.join(out, "configs", f"{cell.cell_id}.yaml")


def cell_settings(spec: GridSpec, cell: Cell, num_labels: int) -> Dict[str, Any]:
    """A cell's full ``train.py`` settings.

    Args:
        spec: The grid.
        cell: The cell.
        num_labels: Its resolved label count (:func:`resolve_num_labels`).

    Returns:
        ``base``, then the learner's keys, then the ASD keys (ASD cells), then
        ``--set``, then the keys the grid sets per cell.
    """
    settings = dict(spec.base)
    settings.update(spec.learner_settings.get(cell.learner, {}))
    if cell.is_asd:
        settings.update(spec.asd)
    settings.update(spec.overrides)
    settings.update(
        algorithm=cell.learner,
        seed=cell.seed,
        num_labels=num_labels,
        adaptor="asd" if cell.is_asd else None,
        save_dir=runs_dir(spec.out),
        save_name=cell.cell_id,
        # A fresh start replaces a folder that holds no checkpoint; resuming keeps it.
        overwrite=True,
        resume=False,
        load_path=None,
    )
    return settings


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    return yaml


def write_cell_config(path: str, settings: Dict[str, Any]) -> None:
    """Write a cell's config, or check it against the one an earlier invocation wrote.

    A cell's folder may hold a checkpoint or results of an earlier invocation;
    continuing it (or reporting it) under other settings would mix runs, so
    that is refused unless only :data:`RUNTIME_KEYS` differ.

    Args:
        path: :func:`cell_config_path`.
        settings: :func:`cell_settings`.
    """
    if os.path.isfile(path):
        check_cell_config(path, settings)
        return
    import io

    buffer = io.StringIO()
    _yaml().dump(settings, buffer)
    write_text_atomic(path, buffer.getvalue())


def check_cell_config(path: str, settings: Dict[str, Any]) -> None:
    """Raise :class:`GridError` when the config at ``path`` differs from ``settings`` beyond :data:`RUNTIME_KEYS`.

    Args:
        path: A cell config written by :func:`write_cell_config`.
        settings: The settings the grid would give the cell now.
    """
    with open(path, encoding="utf-8") as handle:
        previous = _yaml().load(handle) or {}
    keys = (set(previous) | set(settings)) - set(RUNTIME_KEYS)
    differ = sorted(k for k in keys if previous.get(k) != settings.get(k))
    if differ:
        detail = ", ".join(f"{k}: {previous.get(k)!r} -> {settings.get(k)!r}" for k in differ[:6])
        raise GridError(
            f"cell {os.path.splitext(os.path.basename(path))[0]} was started with other settings ({detail}); "
            f"use another --out, or delete {path} and the cell's run folder to redo it"
        )


def cell_state(out: str, cell: Cell) -> str:
    """What an earlier invocation left for a cell.

    Args:
        out: The grid's output folder.
        cell: The cell.

    Returns:
        :data:`DONE` (results.json exists: never rerun), :data:`RESUME`
        (a checkpoint but no results) or :data:`NEW`.
    """
    folder = cell_dir(out, cell)
    if os.path.isfile(os.path.join(folder, "results.json")):
        return DONE
    if os.path.isfile(os.path.join(folder, "latest_model.pth")):
        return RESUME
    return NEW


def run_overrides(out: str, cell: Cell, state: str, gpu: Optional[int]) -> Dict[str, Any]:
    """Keys set on top of a cell's config for this invocation.

    Args:
        out: The grid's output folder.
        cell: The cell.
        state: :data:`RESUME` or :data:`NEW`.
        gpu: Assigned GPU, or ``None`` to keep the config's ``gpu``.

    Returns:
        ``save_dir``, ``resume``, ``load_path`` and (when assigned) ``gpu``.
    """
    if state not in (RESUME, NEW):
        raise ValueError(f"state must be {RESUME!r} or {NEW!r} for a cell to run, got {state!r}")
    # save_dir from the output folder of this invocation: the folder may have been moved.
    overrides: Dict[str, Any] = {"save_dir": runs_dir(out), "resume": state == RESUME, "load_path": None}
    if state == RESUME:
        overrides["load_path"] = os.path.join(cell_dir(out, cell), "latest_model.pth")
    if gpu is not None:
        overrides["gpu"] = gpu
    return overrides
