"""docs/BENCHMARKS.md is what benchmarks/summarise.py generates from the committed result files."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

import summarise  # noqa: E402


def test_committed_document_equals_the_generated_one():
    with open(os.path.join(REPO, "docs", "BENCHMARKS.md"), encoding="utf-8") as handle:
        committed = handle.read()
    assert committed == summarise.render_document(), "run: python benchmarks/summarise.py --write"


def test_every_section_is_filled_and_an_unknown_marker_or_unplaced_section_is_refused(tmp_path):
    text = summarise.render_document()
    assert "{{" not in text
    assert "| asd_freematch_digits.yaml | 0, 1, 2, 3, 4 | 0.956, 0.956, 0.947, 0.822, 0.958 |" in text
    assert "| flexmatch | 0 (ASD) | 3 | 81.6 ± 3.9 |" in text  # the grid's results.md
    template = tmp_path / "t.md"
    template.write_text("x {{nonsense}}\n{{section:default_chain}}\n")
    with pytest.raises(KeyError, match="sections"):  # the manifest's other sections have no place
        summarise.render_document(str(template))
    manifest = tmp_path / "m.json"
    manifest.write_text('{"entries": [], "not_shown": {}}')
    with pytest.raises(KeyError, match="nonsense"):
        summarise.render_document(str(template), str(manifest))


def test_check_flags_a_stale_document(tmp_path, monkeypatch):
    stale = tmp_path / "B.md"
    stale.write_text("old\n")
    readme = tmp_path / "README.md"
    readme.write_text(open(os.path.join(REPO, "README.md"), encoding="utf-8").read())
    monkeypatch.setattr(summarise, "DOCUMENT", str(stale))
    monkeypatch.setattr(summarise, "README", str(readme))
    assert summarise.main(["--check"]) == 1
    assert summarise.main(["--write"]) == 0 and summarise.main(["--check"]) == 0


def test_readme_headline_table_is_the_generated_one_and_a_stale_one_is_flagged(tmp_path, monkeypatch):
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        committed = handle.read()
    assert committed == summarise.render_readme(), "run: python benchmarks/summarise.py --write"
    assert "| digits | FreeMatch | 0.969 ± 0.004 (3) |" in committed  # computed from digits_gt_baselines.json
    readme = tmp_path / "README.md"
    readme.write_text(committed.replace("| digits | FreeMatch | 0.969", "| digits | FreeMatch | 0.999"))
    monkeypatch.setattr(summarise, "README", str(readme))
    assert summarise.main(["--check"]) == 1
    readme.write_text("no markers\n")
    with pytest.raises(KeyError, match="markers"):
        summarise.render_readme(str(readme))


def test_target_runs_table_gives_each_config_and_variant_its_seeds_and_collapse_share(tmp_path, monkeypatch):
    import json

    one_class = {"largest_share": 1.0, "empty_clusters": [0, 2], "reasons": ["cluster 1 holds 100%"]}
    runs = [{"config": "config/da_x.yaml", "variant": "e4", "seed": 1, "top1": 0.25, "degenerate": None},
            {"config": "config/da_x.yaml", "variant": "e4", "seed": 0, "top1": 0.1, "degenerate": one_class},
            {"config": "config/da_x.yaml", "variant": "", "seed": 0, "top1": 0.5, "degenerate": None}]
    (tmp_path / "t.json").write_text(json.dumps({"runs": runs}))
    monkeypatch.setattr(summarise, "RESULTS", str(tmp_path))
    lines = summarise.target_runs_table(["t.json"]).splitlines()
    assert lines[2] == "| da_x.yaml | e4 | 0, 1 | 10.0, 25.0 | 17.5 | 100 % in one class, 2 empty, not flagged |"
    assert lines[3] == "| da_x.yaml | default | 0 | 50.0 | 50.0 | not flagged |"


def test_choose_k_tables_count_the_hits_of_every_record(tmp_path, monkeypatch):
    import json

    def rep(seeds, chosen):
        return {"seeds": seeds, "chosen_k": chosen, "hit": chosen == 10,
                "scores": [{"k": k, "agreement": 0.5 + 0.1 * (k == chosen), "pair_ari": [0.4, 0.6 + 0.1 * (k == chosen)],
                            "clusters_used": [k, k], "fills_k": True, "chosen": k == chosen} for k in (8, 10, 12)]}

    record = {"config": "config/asd_freematch_digits.yaml", "true_k": 10, "ks": [8, 10, 12], "num_train_iter": 400,
              "commit": "abcdef123456", "hits": 1, "repetitions": [rep([0, 1], 10), rep([2, 3], 12)],
              "runs": [{"name": "k10_seed0", "wall_s": 60.0, "pool_acc": 0.7}, {"name": "k8_seed0", "wall_s": 80.0}]}
    (tmp_path / "choose_k_digits.json").write_text(json.dumps(record))
    monkeypatch.setattr(summarise, "RESULTS", str(tmp_path))
    text = summarise.choose_k_tables(["choose_k_digits.json"])
    assert "| asd_freematch_digits.yaml | 10 | 8 10 12 | 400 | 2 (0,1; 2,3) | 10, 12 | 1 of 2 | 70 |" in text
    assert "| asd_freematch_digits.yaml | 0,1 | **10** | 0.600 | 0.400 / 0.700 | 10, 10 | 0.700, n/a | yes |" in text
    assert text.count("| yes |") == 2


def test_map_refit_table_shows_each_map_and_which_fit_was_kept(tmp_path, monkeypatch):
    import json

    def maps(stored, cold, best, cold_won):
        return {"stored": {"val_acc": stored[0], "objective": stored[1]},
                "warm": {"val_acc": stored[0], "objective": stored[1]},
                "cold": {"val_acc": cold[0], "objective": cold[1]},
                "best": {"val_acc": best[0], "objective": best[1], "cold_won": cold_won}}

    runs = [{"run": "a", "run_commit": "0123456789", "run_test_acc": 0.8, "purity": 0.9,
             **maps((0.8, 25.6), (0.88, 15.9), (0.88, 15.9), True)},
            {"run": "b", "run_commit": None, "run_test_acc": None, "purity": 0.95,
             **maps((0.9, 15.0), (0.8, 23.0), (0.9, 15.0), False)}]
    (tmp_path / "r.json").write_text(json.dumps({"runs": runs}))
    monkeypatch.setattr(summarise, "RESULTS", str(tmp_path))
    lines = summarise.map_refit_table(["r.json"]).splitlines()
    assert lines[2] == ("| a (0123456) | 0.800 | 0.900 | 0.800 (25.6) | 0.800 (25.6) | 0.880 (15.9) "
                        "| 0.880 (15.9) cold |")
    assert lines[3] == "| b () | n/a | 0.950 | 0.900 (15.0) | 0.900 (15.0) | 0.800 (23.0) | 0.900 (15.0) warm |"


def test_map_variants_table_puts_each_label_free_map_beside_the_oracle_cost(tmp_path, monkeypatch):
    import json

    run = {"run": "a", "run_commit": "0123456789", "run_test_acc": 0.847, "purity": 0.887,
           "cold": {"val_acc": 0.87, "objective": 24.7}, "balanced": {"val_acc": 0.873, "objective": 24.9},
           "prototypes": {"val_acc": 0.756, "objective": 26.8},
           "oracle": {"val_acc": 0.887, "objective": 24.75, "partition_cost": 27.25, "cold_partition_cost": 24.7,
                      "within_class_transitions": 0.8123, "sizes": [8, 12], "cold_sizes": [9, 11]}}
    (tmp_path / "v.json").write_text(json.dumps({"runs": [run]}))
    monkeypatch.setattr(summarise, "RESULTS", str(tmp_path))
    lines = summarise.map_variants_table(["v.json"]).splitlines()
    assert len(lines) == 3
    assert lines[2] == ("| a (0123456) | 0.847 | 0.887 | 0.81 | 0.870 | 0.873 | 0.756 | 27.2 / 24.7 "
                        "| 8-12; 9-11 |")


def test_switch_trace_table_puts_each_rules_switch_on_beside_the_slot_label_trace(tmp_path, monkeypatch):
    import json

    run = {"run": "trace_seed0", "slot_label_acc": [None, 0.5, 0.61],
           "switch_on": {"consecutive@0.9": {"step": 200, "slot_label_acc": 0.5}, "cold_fit@0.9": None}}
    (tmp_path / "t.json").write_text(json.dumps({"runs": [run]}))
    monkeypatch.setattr(summarise, "RESULTS", str(tmp_path))
    lines = summarise.switch_trace_table(["t.json"]).splitlines()
    assert lines[0] == ("| run | slot labels at the logged steps | `consecutive@0.9`: step (slot labels) "
                        "| `cold_fit@0.9`: step (slot labels) |")
    assert lines[2] == "| trace_seed0 | 0.50, 0.61 | 200 (0.50) | never |"
