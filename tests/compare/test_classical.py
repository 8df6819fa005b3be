"""Classical baselines on the grid's test split, cached per dataset, methods and seeds."""

import json

import pytest

from usb_asd.compare import classical
from usb_asd.compare.classical import CLASSICAL_FILE, cached_classical, load_test_split


def test_test_split_is_the_deep_runs_scored_split():
    images, targets, k = load_test_split("digits", "./data")
    assert images.shape == (360, 8, 8, 3) and images.dtype.name == "uint8" and len(targets) == 360 and k == 10


def test_classical_runs_are_cached(tmp_path, monkeypatch):
    runs = cached_classical(str(tmp_path), "digits", "./data", ["kmeans"], [0, 1])
    assert [(r["method"], r["seed"]) for r in runs] == [("kmeans", 0), ("kmeans", 1)]
    assert all(0.5 < r["acc"] <= 1.0 for r in runs)  # k-means on digits pixels: about 0.7-0.8
    assert json.loads((tmp_path / CLASSICAL_FILE).read_text())["runs"] == runs

    def not_again(*args, **kwargs):
        raise AssertionError("recomputed a cached baseline")

    monkeypatch.setattr(classical, "run_classical", not_again)
    assert cached_classical(str(tmp_path), "digits", "./data", ["kmeans"], [0, 1]) == runs
    with pytest.raises(AssertionError, match="recomputed"):
        cached_classical(str(tmp_path), "digits", "./data", ["kmeans"], [0, 1, 2])  # other seeds: recomputed


def test_datasets_outside_the_plugin_are_skipped(capsys):
    assert classical.run_classical("svhn", "./data", ["kmeans"], [0]) == []
    assert "classical baselines skipped" in capsys.readouterr().err
