"""Choosing k by stability across seeds: the rule, a planted toy, and the command end to end."""

import numpy as np
import pytest
from PIL import Image
from sklearn.cluster import KMeans

from usb_asd.choose_k import KScore, choose_k, pick_k, run_from_command_line, score_k
from usb_asd.errors import UserError


def test_score_is_mean_pairwise_ari_and_counts_used_clusters():
    a = np.array([0, 0, 1, 1, 2, 2])
    relabelled = np.array([2, 2, 0, 0, 1, 1])
    score = score_k(3, [a, relabelled, a])
    assert score.agreement == pytest.approx(1.0) and score.fills_k
    merged = score_k(3, [a, np.array([0, 0, 0, 0, 1, 1])])
    assert merged.agreement < 1.0 and merged.clusters_used == [3, 2] and not merged.fills_k


def test_largest_k_within_tolerance_of_the_best_among_those_filling_k():
    scores = [KScore(2, [0.98], [2, 2]), KScore(3, [0.97], [3, 3]), KScore(4, [0.6], [4, 4]),
              KScore(5, [1.0], [1, 1])]  # all in one cluster: agrees, but fills nothing
    assert pick_k(scores).k == 3 and scores[1].chosen and not scores[3].chosen
    assert pick_k(scores, tolerance=0.0).k == 2


def test_planted_toy_picks_the_planted_k():
    """Three separated, unequally spaced blobs; k-means runs differ only by their seed."""
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 14.0]])
    points = np.concatenate([c + rng.normal(0, 1.0, (150, 2)) for c in centres])

    def partition(k, seed):
        return KMeans(k, n_init=1, init="random", random_state=seed).fit_predict(points)

    scores = choose_k([2, 3, 4, 5, 6], [0, 1, 2, 3], partition)
    chosen = [s for s in scores if s.chosen]
    assert len(chosen) == 1 and chosen[0].k == 3
    assert scores[2].agreement < scores[1].agreement - 0.05  # k = 4 splits a blob differently per seed


def test_bad_requests_are_user_errors():
    with pytest.raises(UserError, match="two different seeds"):
        choose_k([2, 3], [0, 0], lambda k, s: np.zeros(3, int))
    with pytest.raises(UserError, match="--k"):
        choose_k([1, 2], [0, 1], lambda k, s: np.zeros(3, int))


def test_the_command_runs_short_asd_runs_and_writes_table_and_plot(tmp_path, capsys):
    from usb_asd.data.shapes import write_shapes_folder

    write_shapes_folder(str(tmp_path / "shapes"), per_group=8, groups=3)
    config = tmp_path / "c.yaml"
    config.write_text(
        "dataset: folder\nnum_classes: 3\nimg_size: 16\nimage_kind: natural\nalgorithm: fixmatch\nadaptor: asd\n"
        "num_labels: 0\nnet: cnn_small\nbatch_size: 8\nuratio: 2\neval_batch_size: 32\nnum_train_iter: 6\n"
        "num_eval_iter: 6\nnum_log_iter: 6\nasd_warmup_iter: 2\nasd_cluster_iter: 2\nasd_round_iter: 3\n"
        "asd_window: 10\nnum_workers: 0\nema_m: 0.9\ngpu: None\n")
    out = tmp_path / "out"
    argv = ["--c", str(config), "--k", "2", "3", "--seeds", "0", "1", "--data_dir", str(tmp_path / "shapes"),
            "--out", str(out)]
    assert run_from_command_line(argv) == 0
    lines = (out / "choose_k.csv").read_text().splitlines()
    assert lines[0].startswith("k,agreement") and [line.split(",")[0] for line in lines[1:]] == ["2", "3"]
    assert sum(line.endswith("True") for line in lines[1:]) == 1
    with Image.open(out / "choose_k.png") as img:
        assert img.format == "PNG" and img.size[0] > 300
    assert "chosen k =" in capsys.readouterr().out
    # A rerun reuses the four finished runs (trains nothing).
    assert run_from_command_line(argv) == 0
    assert "training" not in capsys.readouterr().out
