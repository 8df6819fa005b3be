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
