"""benchmarks/run_configs.py: what it reads back from a run's log."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))

from run_configs import logged_scores, switch_on_slot_labels  # noqa: E402

LOG = """\
[2026-12-07 05:28:22,155 INFO] 100 iteration USE_EMA: True, train/asd_map_agreement: 0.3146, eval/asd_label_acc: 0.3700
[2026-12-07 05:34:16,970 INFO] asd: cluster labels on after step 450 (the map agrees with a cold fit, ARI 0.912, \
slot labels 0.840 right; consecutive maps alone would have switched on after step 300)
[2026-12-07 05:34:19,401 INFO] 500 iteration, USE_EMA: True, eval/asd_label_acc: 0.8600, eval/acc: 0.7167, lr: 0.09
[2026-12-07 05:40:19,401 INFO] 1000 iteration, USE_EMA: True, eval/acc: 0.9417, lr: 0.07
"""


def test_the_switch_on_line_gives_the_step_and_the_slot_labels_score(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text(LOG)
    assert switch_on_slot_labels(str(log)) == {"450": 0.84}
    assert logged_scores(str(log)) == {"500": 0.7167, "1000": 0.9417}


def test_the_hand_over_from_given_assignments_counts_as_the_switch_on(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("[x INFO] asd: the chain's own map takes over from asd_init_assignments (a cold fit replaced the "
                   "warm-started map: k-Medoids objective 30.38, cold fit 22.51) after step 1000 (asd_warmup_iter "
                   "reached, map agreement 0.875, slot labels 0.910 right (given: 0.680))\n")
    assert switch_on_slot_labels(str(log)) == {"1000": 0.91}


def test_runs_without_a_switch_on_or_a_log_give_nothing(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text(LOG.replace("asd: cluster labels on", "asd: something else"))
    assert switch_on_slot_labels(str(log)) == {}
    assert switch_on_slot_labels(str(tmp_path / "missing.txt")) == {}
    # A run on a pool without labels prints no score.
    log.write_text("[x INFO] asd: cluster labels on after step 450 (asd_warmup_iter reached)\n")
    assert switch_on_slot_labels(str(log)) == {}
