"""assignments.csv: one row per image, ids consistent with the run's ACC; no test-label model selection."""

import json

import numpy as np
import pytest

from usb_asd.metrics import cluster_accuracy
from usb_asd.outputs.assignments import (
    COLUMNS, SplitAssignments, assignments_csv_text, image_names, read_assignments_csv, split_scores,
    write_assignments_csv,
)


def test_from_logits_takes_argmax_and_max_softmax():
    logits = np.array([[0.0, 2.0, 0.0], [1.0, 1.0, 3.0]])
    part = SplitAssignments.from_logits("test", ["a", "b"], logits, np.array([1, -1]))
    assert part.clusters.tolist() == [1, 2]
    expected = np.exp(2) / (np.exp(2) + 2)
    assert part.confidence[0] == pytest.approx(expected)
    assert part.true_class.tolist() == [1, -1]


def test_csv_round_trip_keeps_every_field(tmp_path):
    parts = [SplitAssignments.from_logits("train", ["/x/a.png", "/x/b,c.png"], np.eye(2), None),
             SplitAssignments.from_logits("test", ["0", "1", "2"], np.eye(3)[:, :2] * 5 + 0.1, np.array([0, 1, 1]))]
    path = tmp_path / "assignments.csv"
    write_assignments_csv(str(path), parts)
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    back = read_assignments_csv(str(path))
    assert [p.split for p in back] == ["train", "test"]
    assert back[0].images == ["/x/a.png", "/x/b,c.png"]  # the comma is quoted, not split
    assert back[0].true_class.tolist() == [-1, -1]
    assert back[1].clusters.tolist() == parts[1].clusters.tolist()
    assert np.allclose(back[1].confidence, parts[1].confidence, atol=1e-6)
    assert split_scores(back[0]) is None and split_scores(back[1])["acc"] == pytest.approx(2 / 3)


def test_image_names_are_paths_or_indices():
    assert image_names(["a.png", "b.png"], 2) == ["a.png", "b.png"]
    assert image_names(np.zeros((3, 2, 2, 3), np.uint8), 3) == ["0", "1", "2"]
    assert assignments_csv_text([]) == ",".join(COLUMNS) + "\n"


def test_digits_run_writes_one_row_per_image_and_its_acc(digits_run):
    save, record = digits_run
    parts = {p.split: p for p in read_assignments_csv(str(save / "assignments.csv"))}
    assert len(parts["train"].images) == 1437 and len(parts["test"].images) == 360  # digits' pool and test split
    assert parts["test"].images == [str(i) for i in range(360)]
    assert np.all(parts["test"].true_class >= 0)
    on_disk = json.loads((save / "results.json").read_text())
    # The ids are those ACC was computed on: ACC from the CSV equals the run's.
    assert cluster_accuracy(parts["test"].true_class, parts["test"].clusters) == pytest.approx(on_disk["acc"], abs=1e-9)
    assert split_scores(parts["test"])["nmi"] == pytest.approx(on_disk["nmi"], abs=1e-9)
    assert np.all((parts["train"].confidence >= 1 / 10 - 1e-6) & (parts["train"].confidence <= 1))
    assert set(parts["train"].clusters.tolist()) <= set(range(10))


def test_clustering_run_keeps_the_final_model_only(digits_run):
    save, record = digits_run
    assert not (save / "model_best.pth").exists()  # USB's pick by test top-1
    assert (save / "latest_model.pth").exists()
    on_disk = json.loads((save / "results.json").read_text())
    assert on_disk["model_selection"] == "final" and on_disk["best_top1"] is None and on_disk["best_it"] is None
    assert on_disk["assignments"] == "assignments.csv" and on_disk["clusters_figure"] == "clusters.png"
    assert record["model_selection"] == "final"


def test_folder_without_classes_lists_every_file(folder_run):
    save, paths, record = folder_run
    parts = {p.split: p for p in read_assignments_csv(str(save / "assignments.csv"))}
    # One tree used as train and test: every file once in each split, by path.
    assert parts["train"].images == paths and parts["test"].images == paths
    assert np.all(parts["train"].true_class == -1)
    assert set(parts["train"].clusters.tolist()) <= {0, 1}
    # Same model, same images, same transform: the two splits agree.
    assert parts["train"].clusters.tolist() == parts["test"].clusters.tolist()
    assert record["acc"] is None and record["model_selection"] == "final"
