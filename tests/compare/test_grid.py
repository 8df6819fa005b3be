"""Grid config, cells, per-cell settings, on-disk state and resume overrides."""

import os

import pytest

from usb_asd.compare.grid import (
    DONE,
    NEW,
    RESUME,
    Cell,
    GridError,
    apply_flags,
    assign_gpus,
    cell_config_path,
    cell_dir,
    cell_settings,
    cell_state,
    load_grid_config,
    parse_gpus,
    parse_label_setting,
    plan_cells,
    resolve_num_labels,
    run_overrides,
    spec_from_config,
    validate_spec,
    write_cell_config,
)

from .conftest import REPO, write_grid_config


def _spec(tmp_path, **flags):
    spec = load_grid_config(write_grid_config(tmp_path / "grid.yaml", tmp_path / "out"))
    return apply_flags(spec, **flags)


def test_shipped_grid_config_holds_the_issue_grid():
    spec = load_grid_config(os.path.join(REPO, "config", "compare_digits.yaml"))
    validate_spec(spec)
    assert spec.learners == ["fixmatch", "freematch", "flexmatch", "softmatch"]
    assert spec.labels == [0, 40] and spec.seeds == [0, 1, 2] and spec.num_train_iter == 2000
    assert spec.dataset == "digits" and spec.setting("net") == "cnn_small" and spec.setting("lr") == 0.1
    assert spec.learner_settings["flexmatch"]["thresh_warmup"] is True
    # The grid's ASD cells run the shipped default chain: every ASD key as in the digits config.
    from usb_asd.config import load_yaml

    default = load_yaml(os.path.join(REPO, "config", "asd_freematch_digits.yaml"))
    assert spec.asd and {key: default[key] for key in spec.asd} == spec.asd
    assert len(plan_cells(spec)) == 24


def test_label_settings():
    assert parse_label_setting(0) == 0 and parse_label_setting("40") == 40 and parse_label_setting("ALL") == "all"
    for bad in (-1, "some", 1.5, True):
        with pytest.raises(GridError, match="label count"):
            parse_label_setting(bad)


def test_gpus():
    assert parse_gpus("0,1") == [0, 1] and parse_gpus([2]) == [2] and parse_gpus(None) == [] and parse_gpus(3) == [3]
    with pytest.raises(GridError, match="GPU ids"):
        parse_gpus("0,x")


def test_flags_override_the_config(tmp_path):
    spec = _spec(tmp_path, learners=["softmatch"], labels=["0", "all"], seeds=[5], num_train_iter=12,
                 out=str(tmp_path / "o2"), workers=3, gpus="1", dataset="digits", data_dir="/d",
                 settings={"num_eval_iter": 4})
    assert (spec.learners, spec.labels, spec.seeds, spec.workers, spec.gpus) == (["softmatch"], [0, "all"], [5], 3, [1])
    assert spec.num_train_iter == 12 and spec.data_dir == "/d" and spec.out == str(tmp_path / "o2")
    assert spec.setting("num_eval_iter") == 4


@pytest.mark.parametrize("flags, match", [
    ({"learners": ["nolearner"]}, "'nolearner' is not a USB learner"),
    ({"learners": ["dash"]}, "not supported by usb_asd"),
    ({"learners": ["fullysupervised"]}, "cannot run the ASD cells"),
    ({"labels": [0, 45]}, "45 is not a multiple of num_classes"),
    ({"seeds": [0, 0]}, "seeds: values must be distinct"),
    ({"workers": 0}, "workers must be >= 1"),
    ({"num_train_iter": 0}, "num_train_iter must be an integer >= 1"),
    ({"num_train_iter": 2}, r"asd: asd_warmup_iter \(2\) must be smaller than num_train_iter \(2\)"),
    ({"settings": {"seed": 3}}, r"--set: key\(s\) \['seed'\] are set per cell"),
])
def test_bad_settings_fail_naming_the_setting(tmp_path, flags, match):
    with pytest.raises(GridError, match=match):
        validate_spec(_spec(tmp_path, **flags))


@pytest.mark.parametrize("data, match", [
    ({"grid": {"learners": ["fixmatch"], "labels": [0], "seeds": [0]}, "cells": {}}, "unknown section"),
    ({"grid": {"learners": [], "labels": [0], "seeds": [0]}}, "grid.learners"),
    ({"grid": {"learners": ["fixmatch"], "labels": [0], "seeds": ["a"]}}, "grid.seeds"),
    ({"grid": {"learners": ["fixmatch"], "labels": [0], "seeds": [0], "worker": 2}}, "grid.worker"),
    ({"grid": {"learners": ["fixmatch"], "labels": [0], "seeds": [0]}, "base": [1]}, "section 'base'"),
])
def test_bad_grid_configs_fail_naming_the_key(data, match):
    with pytest.raises(GridError, match=match):
        spec_from_config(data, "g.yaml")


def test_asd_section_holds_only_asd_keys(tmp_path):
    spec = _spec(tmp_path)
    spec.asd["lr"] = 0.5
    with pytest.raises(GridError, match=r"asd: section holds only asd_\* keys"):
        validate_spec(spec)


def test_cells_are_seed_major_with_distinct_ids(tmp_path):
    cells = plan_cells(_spec(tmp_path, seeds=[0, 1]))
    assert [c.cell_id for c in cells] == [
        "fixmatch_asd_seed0", "fixmatch_gt40_seed0", "freematch_asd_seed0", "freematch_gt40_seed0",
        "fixmatch_asd_seed1", "fixmatch_gt40_seed1", "freematch_asd_seed1", "freematch_gt40_seed1"]
    assert Cell("softmatch", "all", 2).cell_id == "softmatch_gtall_seed2"


def test_cell_settings(tmp_path):
    spec = _spec(tmp_path, settings={"lr": 0.2})
    spec.learner_settings["fixmatch"] = {"p_cutoff": 0.5, "lr": 0.3}
    asd = cell_settings(spec, Cell("fixmatch", 0, 1), 0)
    assert asd["adaptor"] == "asd" and asd["num_labels"] == 0 and asd["asd_warmup_iter"] == 2
    assert asd["algorithm"] == "fixmatch" and asd["seed"] == 1 and asd["p_cutoff"] == 0.5
    assert asd["lr"] == 0.2  # --set comes last
    assert asd["save_dir"] == os.path.join(spec.out, "runs") and asd["save_name"] == "fixmatch_asd_seed1"
    gt = cell_settings(spec, Cell("freematch", 40, 0), 40)
    assert gt["adaptor"] is None and gt["num_labels"] == 40 and "asd_warmup_iter" not in gt and "p_cutoff" not in gt


def test_all_labels_is_every_training_label(tmp_path):
    assert resolve_num_labels(_spec(tmp_path), 40) == 40
    assert resolve_num_labels(_spec(tmp_path), "all") == -1  # the plugin labels every training image


def test_cell_state_and_resume_overrides(tmp_path):
    out, cell = str(tmp_path), Cell("fixmatch", 40, 0)
    assert cell_state(out, cell) == NEW
    runs = os.path.join(out, "runs")
    assert run_overrides(out, cell, NEW, None) == {"save_dir": runs, "resume": False, "load_path": None}
    os.makedirs(cell_dir(out, cell))
    (tmp_path / "runs" / cell.cell_id / "log.txt").write_text("")
    assert cell_state(out, cell) == NEW  # a log alone is a run that never trained
    (tmp_path / "runs" / cell.cell_id / "latest_model.pth").write_bytes(b"x")
    assert cell_state(out, cell) == RESUME
    assert run_overrides(out, cell, RESUME, 1) == {
        "save_dir": runs, "resume": True, "load_path": os.path.join(cell_dir(out, cell), "latest_model.pth"), "gpu": 1}
    (tmp_path / "runs" / cell.cell_id / "results.json").write_text("{}")
    assert cell_state(out, cell) == DONE
    with pytest.raises(ValueError, match="state must be"):
        run_overrides(out, cell, DONE, None)


def test_gpus_are_assigned_round_robin():
    cells = [Cell("fixmatch", 0, s) for s in range(5)]
    assert list(assign_gpus(cells, [0, 1]).values()) == [0, 1, 0, 1, 0]
    assert list(assign_gpus(cells, []).values()) == [None] * 5


def test_cell_config_is_written_once_and_checked(tmp_path):
    spec = _spec(tmp_path)
    cell = Cell("fixmatch", 40, 0)
    path = cell_config_path(spec.out, cell)
    settings = cell_settings(spec, cell, 40)
    write_cell_config(path, settings)
    first = open(path).read()
    write_cell_config(path, {**settings, "gpu": 3, "data_dir": "/elsewhere"})  # runtime keys may change
    assert open(path).read() == first
    changed = r"fixmatch_gt40_seed0 was started with other settings \(num_train_iter: 6 -> 7\)"
    with pytest.raises(GridError, match=changed):
        write_cell_config(path, {**settings, "num_train_iter": 7})
