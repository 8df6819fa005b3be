"""The standalone supercm learner: in USB's registry, trains on images, adapts domains."""

import json

import numpy as np
import pytest
import torch

from usb_asd import plugin
from usb_asd.cli import _extra_arguments
from usb_asd.config import parse_config
from usb_asd.data.registry import DATASETS, DatasetSpec, register_dataset
from usb_asd.data.splits import ImageSplits
from usb_asd.runner import main
from usb_asd.supercm.learner import SuperCM
from usb_asd.supercm.regulariser import SUPERCM_ARGUMENTS


def _run(argv):
    return main(parse_config(argv, extra_arguments=_extra_arguments))


def test_registered_in_usbs_algorithm_registry():
    from semilearn.algorithms import name2alg
    from semilearn.core.utils import ALGORITHMS

    plugin.register()
    assert ALGORITHMS["supercm"] is SuperCM and name2alg["supercm"] is SuperCM
    names = {a.name for a in SuperCM.get_argument()}
    assert names == {a.name for a in SUPERCM_ARGUMENTS} - {"--supercm"}


def _gaussian_blobs(k=3, per_class_train=60, per_class_test=30, seed=0) -> ImageSplits:
    """Well-separated Gaussians in pixel space, rendered as 8x8 RGB images.

    Class c has a random mean image; samples add N(0, 12^2) noise per pixel,
    so classes lie far apart (mean images differ by ~100 grey levels per pixel).
    """
    rng = np.random.default_rng(seed)
    means = rng.uniform(40, 215, size=(k, 8, 8, 3))

    def draw(n):
        y = np.repeat(np.arange(k), n)
        x = means[y] + rng.normal(0, 12, size=(len(y), 8, 8, 3))
        return np.clip(np.rint(x), 0, 255).astype(np.uint8), y

    x_tr, y_tr = draw(per_class_train)
    x_te, y_te = draw(per_class_test)
    return ImageSplits("blobs", x_tr, y_tr, x_te, y_te, num_classes=k)


@pytest.fixture
def blobs_dataset():
    splits = _gaussian_blobs()
    register_dataset(DatasetSpec("test_blobs", lambda root, k: splits, "glyph", None, needs_dir=False))
    yield "test_blobs"
    DATASETS.pop("test_blobs")


def test_one_label_per_class_on_separated_gaussians_is_near_perfect(tmp_path, make_digits_config, blobs_dataset):
    torch.manual_seed(0)
    record = _run(make_digits_config(
        algorithm="supercm", dataset=blobs_dataset, num_classes=3, num_labels=3, batch_size=6, uratio=4,
        num_train_iter=60, num_eval_iter=60, lr=0.05, ema_m=0.9, supercm_beta=0.186,
    ))
    assert record["algorithm"] == "supercm" and record["supercm"] is True
    assert record["top1"] >= 0.97, record
    state = torch.load(tmp_path / "run" / "latest_model.pth", map_location="cpu", weights_only=False)["model"]
    # The centroids are the class means of the 3 labelled images' features, each seen 2 x per batch.
    assert state["cm.class_means.counts"].tolist() == [120.0, 120.0, 120.0]


def test_domain_adaptation_run_scores_the_target(tmp_path, make_digits_config):
    record = _run(make_digits_config(
        algorithm="supercm", num_labels=-1, da_target_dataset="digits_restyled", num_train_iter=10,
        num_eval_iter=10,
    ))
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk["target_dataset"] == "digits_restyled" and on_disk["num_labels"] == -1
    assert on_disk["num_eval_samples"] == 360 and on_disk["acc"] == record["acc"]
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "dataset digits -> digits_restyled: 1437 labelled, 719 unlabelled, 360 eval" in log


def test_domain_adaptation_refuses_an_adaptor(tmp_path, make_digits_config):
    with pytest.raises(ValueError, match="da_target_dataset"):
        _run(make_digits_config(algorithm="fixmatch", num_labels=0, adaptor="asd",
                                da_target_dataset="digits_restyled"))
    assert not (tmp_path / "run").exists()
