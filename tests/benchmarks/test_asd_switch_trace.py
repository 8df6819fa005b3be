"""benchmarks/investigations/asd_switch_trace.py: the gate rules' switch-on steps, read from USB's log lines."""

import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "benchmarks", "investigations"))

import asd_switch_trace  # noqa: E402

LOG = """[2026-12-07 02:25:04,856 INFO] Arguments: Namespace(save_dir='/x', seed=3, asd_switch_rule='cold_fit')
[2026-12-07 02:25:46,907 INFO] 100 iteration USE_EMA: True, train/asd_labels_ready: 0.0000, eval/asd_label_acc: 0.4000
[2026-12-07 02:26:46,907 INFO] 200 iteration USE_EMA: True, train/asd_map_agreement: 0.9500, train/asd_cold_fit_agreement: 0.6000, eval/asd_label_acc: 0.5000
[2026-12-07 02:27:46,907 INFO] 300 iteration USE_EMA: True, train/asd_map_agreement: 0.8500, train/asd_cold_fit_agreement: 0.9500, eval/asd_label_acc: 0.6000
[2026-12-07 02:28:46,907 INFO] 400 iteration, USE_EMA: True, train/asd_map_agreement: 0.9200, train/asd_cold_fit_agreement: 0.9100, eval/asd_label_acc: 0.8000, eval/acc: 0.5
"""


def test_trace_reads_both_agreements_and_the_slot_labels_per_logged_step():
    trace = asd_switch_trace.read_trace(LOG)
    assert trace["iterations"] == [100, 200, 300, 400]
    assert trace["map_agreement"] == [None, 0.95, 0.85, 0.92]
    assert trace["cold_fit_agreement"] == [None, 0.6, 0.95, 0.91]
    assert trace["slot_label_acc"] == [0.4, 0.5, 0.6, 0.8]


def test_each_rule_switches_at_its_first_passing_step():
    trace = asd_switch_trace.read_trace(LOG)
    assert asd_switch_trace.first_switch(trace, "consecutive", 0.9) == 1  # 0.95 at step 200
    assert asd_switch_trace.first_switch(trace, "cold_fit", 0.9) == 3  # both >= 0.9 only at 400
    assert asd_switch_trace.first_switch(trace, "cold_fit", 0.95) is None


def test_the_record_holds_each_rules_step_and_slot_labels_and_refuses_a_run_without_cold_fits(tmp_path):
    run = tmp_path / "trace_seed3"
    run.mkdir()
    (run / "log.txt").write_text(LOG)
    out = tmp_path / "trace.json"
    assert asd_switch_trace.main([str(run), "--thresholds", "0.9", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    (entry,) = record["runs"]
    assert entry["seed"] == 3 and record["thresholds"] == [0.9]
    assert entry["switch_on"] == {"consecutive@0.9": {"step": 200, "slot_label_acc": 0.5},
                                  "cold_fit@0.9": {"step": 400, "slot_label_acc": 0.8}}
    plain = tmp_path / "plain_seed0"
    plain.mkdir()
    (plain / "log.txt").write_text(LOG.replace("train/asd_cold_fit_agreement", "train/other"))
    with pytest.raises(SystemExit, match="no train/asd_cold_fit_agreement"):
        asd_switch_trace.main([str(plain), "--out", str(tmp_path / "plain.json")])
    assert not (tmp_path / "plain.json").exists()
