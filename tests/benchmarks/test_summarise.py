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


def test_every_marker_is_filled_and_an_unknown_one_is_refused(tmp_path):
    text = summarise.render_document()
    assert "{{" not in text
    assert "| asd_freematch_digits (no labels) | 3 |" in text  # a table computed from digits_asd.json
    assert "| flexmatch | 0 (ASD) | 3 | 81.6 ± 3.9 |" in text  # the grid's results.md
    template = tmp_path / "t.md"
    template.write_text("x {{nonsense}}\n")
    with pytest.raises(KeyError, match="nonsense"):
        summarise.render_document(str(template))


def test_check_flags_a_stale_document(tmp_path, monkeypatch):
    stale = tmp_path / "B.md"
    stale.write_text("old\n")
    monkeypatch.setattr(summarise, "DOCUMENT", str(stale))
    assert summarise.main(["--check"]) == 1
    assert summarise.main(["--write"]) == 0 and summarise.main(["--check"]) == 0
