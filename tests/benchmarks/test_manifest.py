"""benchmarks/results/manifest.json accounts for every result file, and summarise.py renders what it lists."""

import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

import summarise  # noqa: E402


def test_every_result_file_and_folder_is_shown_or_listed_as_not_shown():
    manifest = summarise.load_manifest()
    shown = {name for entry in manifest["entries"] for name in summarise.entry_files(entry)}
    not_shown = set(manifest["not_shown"])
    present = {name for name in os.listdir(summarise.RESULTS) if name != "manifest.json"
               and (name.endswith(".json") or os.path.isdir(os.path.join(summarise.RESULTS, name)))}
    assert not present - shown - not_shown, "add these to benchmarks/results/manifest.json (entries or not_shown)"
    assert not shown & not_shown, "a file is both shown and not shown"
    assert not not_shown - present, "not_shown lists files that are not there"
    assert all(reason.strip() for reason in manifest["not_shown"].values()), "say why a file is not shown"
    assert {e["kind"] for e in manifest["entries"]} <= set(summarise.RENDERERS)


def test_check_reproduces_the_committed_document_and_readme():
    assert summarise.main(["--check"]) == 0, "run: python benchmarks/summarise.py --write"


def test_a_listed_file_that_is_not_there_yet_shows_not_run_yet():
    entry = {"file": "boost_digits_kmeans_missing.json", "kind": "boost", "section": "boost", "title": "T"}
    assert summarise.render_entry(entry) == "### T\n\nNot run yet (`boost_digits_kmeans_missing.json`)."
    text = summarise.render_document()
    for name in ("boost_mnist5k_spectral.json", "boost_digits_kmeans.json", "boost_digits_corrupted30.json"):
        if not os.path.exists(os.path.join(summarise.RESULTS, name)):
            assert f"Not run yet (`{name}`)." in text


def _boost_record(start):
    def run(variant, seed, acc):
        return {"config": "config/asd_freematch_digits.yaml", "variant": variant, "seed": seed, "acc": acc,
                "nmi": acc, "ari": acc, "top1": 0.1}

    return {"command": "python benchmarks/run_configs.py ...", "seeds": [0, 1], "commit": "0123456789ab",
            "machine": {}, "summary": {},
            "runs": [run("asd", 0, 0.9), run("asd", 1, 0.8), run("selflabel", 1, 0.7)],
            "start": start, "boost_command": "python benchmarks/boost_from_start.py --start kmeans --out x.json"}


def test_boost_table_shows_the_start_then_asd_and_self_labelling_per_seed(tmp_path, monkeypatch):
    scores = {"train": {"acc": 0.7, "nmi": 0.6, "ari": 0.5}, "test": {"acc": 0.65, "nmi": 0.6, "ari": 0.5}}
    start = {"method": "kmeans", "seed": 0, "path": "/tmp/s.csv", "sha256": "ab" * 32, "scores": scores}
    (tmp_path / "boost_x.json").write_text(json.dumps(_boost_record(start)))
    monkeypatch.setattr(summarise, "RESULTS", str(tmp_path))
    lines = summarise.boost_table(["boost_x.json"]).splitlines()
    assert lines[0] == "Start: kmeans (seed 0), sha256 `abababababab`; ACC train / test 0.700 / 0.650."
    assert lines[4] == "| 0 | 0.900 | not run |"
    assert lines[5] == "| 1 | 0.800 | 0.700 |"
    assert lines[6] == "| mean ± std | 0.850 ± 0.071 | 0.700 |"
    assert lines[7] == "| worst | 0.800 | 0.700 |"
    entry = {"file": "boost_x.json", "kind": "boost", "section": "boost", "title": "T"}
    text = summarise.render_entry(entry)
    assert "```bash\npython benchmarks/boost_from_start.py --start kmeans --out x.json\n```" in text
    assert "From `benchmarks/results/boost_x.json` (commit 0123456)." in text


def test_boost_table_names_a_corrupted_start_and_its_scores_before(tmp_path, monkeypatch):
    before = {"train": {"acc": 0.95}, "test": {"acc": 0.9}}
    start = {"from_file": "/runs/seed0/assignments.csv", "path": "/tmp/s.csv", "sha256": "cd" * 32,
             "scores": {"train": {"acc": 0.7}, "test": None}, "before_corruption": before, "corrupt_fraction": 0.3}
    (tmp_path / "boost_y.json").write_text(json.dumps(_boost_record(start)))
    monkeypatch.setattr(summarise, "RESULTS", str(tmp_path))
    first = summarise.boost_table(["boost_y.json"]).splitlines()[0]
    assert first == ("Start: `assignments.csv`, sha256 `cdcdcdcdcdcd`; ACC train / test 0.700 / n/a after randomising "
                     "30 % of its labels (0.950 / 0.900 before).")


def test_boost_table_adds_the_hand_over_column_only_where_it_was_run(tmp_path, monkeypatch):
    scores = {"train": {"acc": 0.7}, "test": {"acc": 0.65}}
    start = {"method": "spectral", "seed": 0, "path": "/tmp/s.csv", "sha256": "ab" * 32, "scores": scores}
    record = _boost_record(start)
    record["runs"].append({**record["runs"][0], "variant": "asd_handover", "acc": 0.95})
    (tmp_path / "boost_z.json").write_text(json.dumps(record))
    monkeypatch.setattr(summarise, "RESULTS", str(tmp_path))
    lines = summarise.boost_table(["boost_z.json"]).splitlines()
    assert lines[2] == ("| seed | ASD from the start: test ACC | ASD, cold fit at the hand-over "
                        "(`asd_cold_refit: handover`): test ACC | self-labelling from the start: test ACC |")
    assert lines[4] == "| 0 | 0.900 | 0.950 | not run |"
    assert lines[5] == "| 1 | 0.800 | not run | 0.700 |"
    assert lines[7] == "| worst | 0.800 | 0.950 | 0.700 |"
