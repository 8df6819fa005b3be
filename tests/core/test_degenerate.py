"""Degenerate final models (one cluster swallowing the images, empty clusters) flagged, never silent."""

import json

import numpy as np
import pytest

from usb_asd.cli import _extra_arguments, format_scores
from usb_asd.config import parse_config
from usb_asd.core.degenerate import cluster_sizes, degeneracy, describe, dominant_share_limit
from usb_asd.runner import main


class PlantedCollapse:
    """Test mixin: the final model sends (almost) every image to cluster 3."""

    def predict(self, eval_dest="eval", out_key="logits"):
        logits, targets = super().predict(eval_dest, out_key)
        logits[:-1, 3] += 1e6  # all but one image
        return logits, targets


def test_the_limit_is_halfway_between_an_even_share_and_everything():
    assert dominant_share_limit(10) == pytest.approx(0.55)
    assert dominant_share_limit(2) == pytest.approx(0.75)


def test_balanced_clusters_are_fine_and_collapses_are_flagged():
    assert degeneracy([10, 11, 9, 10]) is None
    assert degeneracy([54, 46 - 9] + [1] * 9) is None  # 54 % of 100 in one of 11 clusters: under 54.5 %
    record = degeneracy([0, 0, 60, 0])
    assert record["largest_cluster"] == 2 and record["largest_share"] == 1.0 and record["empty_clusters"] == [0, 1, 3]
    assert describe(record) == ("DEGENERATE clusters: cluster 2 holds 100% of the 60 images (limit 62%); "
                                "3 of 4 clusters are empty")
    assert degeneracy([5, 5, 0])["reasons"] == ["1 of 3 clusters are empty"]
    assert degeneracy([1, 1, 0, 0]) is None  # fewer images than clusters: empty ones are unavoidable
    assert degeneracy([2, 0, 0, 0]) is not None  # ...but one cluster holding both is still flagged
    assert describe(None) == ""


def test_cluster_sizes_count_every_output():
    assert cluster_sizes(np.array([0, 2, 2]), 4).tolist() == [1, 0, 2, 0]


def test_a_planted_collapse_is_flagged_in_the_log_results_and_final_line(tmp_path, make_digits_config):
    args = parse_config(make_digits_config(num_train_iter=4, num_eval_iter=4), extra_arguments=_extra_arguments)
    record = main(args, extra_mixins=(PlantedCollapse,))
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    flag = on_disk["degenerate"]
    assert flag["largest_cluster"] == 3 and flag["num_images"] == 360
    assert flag["largest_share"] == pytest.approx(359 / 360) and len(flag["empty_clusters"]) == 8
    assert "warning: DEGENERATE clusters: cluster 3 holds 100% of the 360 images" in \
        (tmp_path / "run" / "log.txt").read_text()
    assert format_scores(record).endswith("[DEGENERATE clusters: cluster 3 holds 100% of the 360 images "
                                          "(limit 55%); 8 of 10 clusters are empty]")


def test_a_healthy_record_has_no_flag_on_its_line():
    record = {"algorithm": "fixmatch", "dataset": "digits", "iterations": 4, "wall_s": 1.0, "device": "cpu",
              "acc": 0.9, "nmi": 0.8, "ari": 0.7, "top1": 0.9, "degenerate": None}
    assert "DEGENERATE" not in format_scores(record)
