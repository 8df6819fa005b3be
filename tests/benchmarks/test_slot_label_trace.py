"""benchmarks/investigations/slot_label_trace.py reads the slot-label accuracy trace from USB's log lines."""

import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "benchmarks", "investigations"))

import slot_label_trace  # noqa: E402

LOG = """[2026-11-30 07:54:46,623 INFO] 100 iteration USE_EMA: True, train/sup_loss: 1.9950, train/asd_labels_ready: 0.0000
[2026-11-30 07:54:58,307 INFO] 200 iteration USE_EMA: True, train/sup_loss: 1.9703, eval/asd_label_acc: 0.5000, eval/asd_redraw_label_acc: 0.5250, lr: 0.0991
[2026-11-30 07:55:09,306 INFO] 300 iteration USE_EMA: True, eval/asd_label_acc: 0.6750, lr: 0.0979
"""


def test_trace_keeps_only_lines_with_a_slot_label_score(tmp_path):
    (tmp_path / "log.txt").write_text(LOG)
    assert slot_label_trace.read_trace(str(tmp_path / "log.txt")) == {"iterations": [200, 300],
                                                                       "slot_label_acc": [0.5, 0.675]}


def test_runs_are_named_by_variant_and_seed_and_a_run_without_scores_is_refused(tmp_path):
    run = tmp_path / "asd_freematch_digits_round1_seed3"
    run.mkdir()
    (run / "log.txt").write_text(LOG)
    out = tmp_path / "trace.json"
    assert slot_label_trace.main(["--runs", str(run), "--out", str(out)]) == 0
    record = json.loads(out.read_text())["runs"][0]
    assert (record["variant"], record["seed"], record["slot_label_acc"]) == ("round1", 3, [0.5, 0.675])
    assert record["acc"] is None  # no results.json in the folder
    empty = tmp_path / "x_seed0"
    empty.mkdir()
    (empty / "log.txt").write_text("nothing\n")
    with pytest.raises(SystemExit, match="no eval/asd_label_acc"):
        slot_label_trace.main(["--runs", str(empty), "--out", str(tmp_path / "t2.json")])


def test_whole_names_make_variants_and_the_final_acc_is_read_from_results_json(tmp_path):
    runs = []
    for name, acc in (("asd_fixmatch_mnist5k_seed4", 0.41), ("asd_freematch_mnist5k_seed4", 0.52)):
        run = tmp_path / name
        run.mkdir()
        (run / "log.txt").write_text(LOG)
        (run / "results.json").write_text(json.dumps({"acc": acc, "nmi": 0.3}))
        runs.append(str(run))
    out = tmp_path / "trace.json"
    assert slot_label_trace.main(["--runs", *runs, "--out", str(out), "--variant_from", "name"]) == 0
    records = json.loads(out.read_text())["runs"]
    assert [(r["variant"], r["seed"], r["acc"]) for r in records] == [
        ("asd_fixmatch_mnist5k", 4, 0.41), ("asd_freematch_mnist5k", 4, 0.52)]
