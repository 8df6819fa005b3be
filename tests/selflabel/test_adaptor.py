"""adaptor: selflabel: a USB learner trains on the most confident images of a given clustering."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from usb_asd.cli import _extra_arguments
from usb_asd.config import parse_config
from usb_asd.data.usb_datasets import ImageDataset
from usb_asd.outputs.assignments import SplitAssignments, write_assignments_csv
from usb_asd.runner import main
from usb_asd.selflabel.adaptor import SelfLabelAdaptorMixin


class _Base:
    def adapt_datasets(self, dataset_dict):
        return dataset_dict


class _Learner(SelfLabelAdaptorMixin, _Base):
    """The mixin's data glue alone (no USB learner behind it)."""

    def __init__(self, args):
        self.args, self.printed = args, []
        self.print_fn = self.printed.append


def _start_csv(path, clusters, confidence):
    names = [str(i) for i in range(len(clusters))]
    write_assignments_csv(str(path), [SplitAssignments("train", names, np.asarray(clusters), np.asarray(confidence),
                                                       np.full(len(clusters), -1))])
    return str(path)


def test_the_labelled_split_is_the_most_confident_share_of_each_cluster_with_its_cluster_as_label(tmp_path):
    images = np.arange(8, dtype=np.uint8).reshape(8, 1, 1, 1).repeat(3, axis=3)
    pool = ImageDataset("fixmatch", images, np.full(8, -1), 2, "weak", True, "strong", False)
    clusters = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    confidence = np.array([0.2, 0.9, 0.8, 0.1, 0.5, 0.3, 0.4, 0.7])
    args = SimpleNamespace(num_classes=2, selflabel_fraction=0.5, num_labels=0,
                           selflabel_assignments=_start_csv(tmp_path / "start.csv", clusters, confidence))
    learner = _Learner(args)
    labelled = learner.adapt_datasets({"train_lb": None, "train_ulb": pool, "eval": None})["train_lb"]
    # cluster 0 (0, 2, 4, 6): 0.8 at 2 and 0.5 at 4; cluster 1 (1, 3, 5, 7): 0.9 at 1 and 0.7 at 7
    assert [int(labelled.data[i][0, 0, 0]) for i in range(len(labelled))] == [1, 2, 4, 7]
    assert list(labelled.targets) == [1, 0, 0, 1]
    assert (labelled.transform, labelled.strong_transform, labelled.is_ulb) == ("weak", "strong", False)
    assert "4 of 8 images labelled by their cluster" in learner.printed[0]


def test_a_learner_self_labels_from_a_given_clustering_on_digits(tmp_path, make_digits_config):
    from usb_asd.data.digits import load_digits

    classes = load_digits().train_targets
    confidence = np.random.default_rng(0).random(classes.size)
    start = _start_csv(tmp_path / "start.csv", classes, confidence)
    record = main(parse_config(make_digits_config(
        algorithm="fixmatch", adaptor="selflabel", num_labels=0, selflabel_assignments=start, num_train_iter=6,
        num_eval_iter=6, batch_size=8, uratio=1), extra_arguments=_extra_arguments))
    expected = int(sum(np.ceil(0.5 * np.bincount(classes))))  # half of each class, rounded up
    log = (tmp_path / "run" / "log.txt").read_text()
    assert f"dataset digits: {expected} self-labelled (no ground truth)" in log
    assert record["iterations"] == 6 and record["model_selection"] == "final"  # a clustering run: no test selection
    assert (tmp_path / "run" / "assignments.csv").exists()
    assert json.loads((tmp_path / "run" / "results.json").read_text())["data_fingerprint"]["init"]["images"] == 1437


def test_self_labelling_takes_no_ground_truth(tmp_path, make_digits_config):
    with pytest.raises(ValueError, match="set num_labels: 0"):
        main(parse_config(make_digits_config(adaptor="selflabel", num_labels=40,
                                             selflabel_assignments=str(tmp_path / "x.csv")),
                          extra_arguments=_extra_arguments))
    assert not (tmp_path / "run").exists()
