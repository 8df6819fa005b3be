"""Classical baselines recover an easy planted clustering and score digits sensibly."""

import numpy as np
import pytest

from usb_asd.baselines import CLASSICAL_METHODS, classical_scores
from usb_asd.data.digits import load_digits


@pytest.mark.parametrize("method", sorted(CLASSICAL_METHODS))
def test_planted_blobs_are_recovered(method):
    rng = np.random.default_rng(0)
    centres = np.array([0, 120, 240])
    targets = np.repeat(np.arange(3), 20)
    images = np.clip(centres[targets][:, None] + rng.normal(0, 4, (60, 12)), 0, 255).astype(np.uint8)
    scores = classical_scores(method, images.reshape(60, 2, 2, 3), targets, k=3, seed=0)
    assert scores["acc"] == 1.0 and scores["ari"] == pytest.approx(1.0)


def test_kmeans_on_digits_test_split_is_in_the_known_range():
    s = load_digits()
    acc = classical_scores("kmeans", s.test_images, s.test_targets, k=10, seed=0)["acc"]
    assert 0.6 < acc < 0.95  # k-means on raw digits is about 0.79 on the full set


def test_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        classical_scores("dbscan", np.zeros((4, 1, 1, 1), np.uint8), np.zeros(4, int), 2, 0)
    with pytest.raises(ValueError, match="k \\(9\\)"):
        classical_scores("kmeans", np.zeros((4, 1, 1, 1), np.uint8), np.zeros(4, int), 9, 0)


# ---- python -m usb_asd.baselines: a classical clustering of a run's pool as a start -------------

def _config(tmp_path, **settings):
    base = {"algorithm": "freematch", "adaptor": "asd", "num_labels": 0, "dataset": "digits", "num_classes": 10,
            "net": "cnn_small", "img_size": 8, "seed": 0}
    path = tmp_path / "config.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in {**base, **settings}.items()))
    return str(path)


def _preflight(config, **overrides):
    """The checks a run of ``config`` makes of its data (and of its given clustering) before training."""
    from usb_asd.cli import _extra_arguments
    from usb_asd.config import parse_config
    from usb_asd.data.pool_check import forget_prepared
    from usb_asd.preflight import check_data

    try:
        return check_data(parse_config(["--c", config], extra_arguments=_extra_arguments, overrides=overrides))
    finally:
        forget_prepared()


@pytest.mark.parametrize("method", ["kmeans", "spectral"])
def test_the_command_writes_a_start_a_run_of_the_same_config_accepts(tmp_path, capsys, method):
    from usb_asd.baselines import run_from_command_line
    from usb_asd.outputs.assignments import read_assignments_csv

    config, out = _config(tmp_path), str(tmp_path / "start.csv")
    assert run_from_command_line(["--c", config, "--method", method, "--out", out]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f"{method} of the raw pixels: 1437 pool images in 10 clusters -> {out}; test split ACC")
    pool, test = read_assignments_csv(out)
    assert (pool.split, len(pool.images), test.split, len(test.images)) == ("train", 1437, "test", 360)
    assert np.all((pool.confidence > 0) & (pool.confidence <= 1)) and np.all(test.true_class >= 0)
    assert _preflight(config, asd_init_assignments=out)["init"]["images"] == 1437
    assert _preflight(config, adaptor="selflabel", selflabel_assignments=out)["init"]["images"] == 1437


def test_a_folder_of_images_of_any_size_is_clustered_at_img_size(tmp_path, capsys):
    from PIL import Image

    from usb_asd.baselines import run_from_command_line

    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(12):  # dark and light images of three sizes, directly in the folder (no labels)
        side = (6, 9, 12)[i % 3]
        level = 30 if i % 2 else 220
        pixels = np.clip(level + rng.normal(0, 5, (side, side, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")
    config = _config(tmp_path, dataset="folder", data_dir=str(folder), num_classes=2)
    out = str(tmp_path / "start.csv")
    assert run_from_command_line(["--c", config, "--method", "kmeans", "--out", out]) == 0
    assert "test split ACC" not in capsys.readouterr().out  # no classes to score with
    assert _preflight(config, asd_init_assignments=out)["init"]["images"] == 12
    rows = open(out).read().splitlines()
    clusters = {row.split(",")[1]: int(row.split(",")[2]) for row in rows[1:] if row.startswith("train,")}
    dark = {clusters[str(folder / f"{i}.png")] for i in range(1, 12, 2)}
    light = {clusters[str(folder / f"{i}.png")] for i in range(0, 12, 2)}
    assert len(dark) == len(light) == 1 and dark != light  # grouped by brightness, whatever the size


@pytest.mark.parametrize("flags, expected", [
    (["--method", "dbscan", "--out", "start.csv"], "--method 'dbscan': expected one of agglomerative, kmeans, spectral"),
    (["--method", "kmeans", "--out", "start.txt"], "expected a file name ending in .csv"),
    (["--method", "kmeans", "--out", "nowhere/start.csv"], "nowhere does not exist"),
    (["--method", "kmeans"], "the following arguments are required: --out"),
    (["--method", "kmeans", "--out", "start.csv", "--seed", "one"], "argument --seed: invalid int value: 'one'"),
])
def test_bad_usage_is_one_line_exit_status_2_and_nothing_written(tmp_path, capsys, monkeypatch, flags, expected):
    from usb_asd.baselines import run_from_command_line

    config = _config(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run_from_command_line(["--c", config, *flags]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and expected in err and err.startswith("error: "), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_bad_config_is_one_line_and_nothing_written(tmp_path, capsys):
    from usb_asd.baselines import run_from_command_line

    config = _config(tmp_path, dataset="folder", data_dir=str(tmp_path / "nowhere"), num_classes=2)
    assert run_from_command_line(["--c", config, "--method", "kmeans", "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "directory does not exist" in err
    assert not (tmp_path / "s.csv").exists()


def test_the_confidence_is_high_near_the_own_mean_and_far_from_the_others():
    from usb_asd.baselines import soft_assignment

    centroids = np.array([[0.0, 0.0], [4.0, 0.0]])
    q = soft_assignment(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), centroids)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    assert q[0, 0] > q[1, 0] > q[2, 0] == pytest.approx(0.5)  # at its mean, nearer, halfway
