"""predict: a trained run's checkpoint applied to a folder reproduces the run's own assignments."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.outputs.conftest import digits_run, folder_run  # noqa: F401  (shared session fixtures)
from usb_asd.outputs.assignments import read_assignments_csv
from usb_asd.predict import PredictError, predict_folder, run_from_command_line

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_predict_reproduces_the_runs_assignments(folder_run, tmp_path):  # noqa: F811
    save, paths, _ = folder_run
    run_rows = {p.split: p for p in read_assignments_csv(str(save / "assignments.csv"))}["train"]
    out = tmp_path / "pred.csv"
    parts = predict_folder(str(save / "latest_model.pth"), os.path.dirname(paths[0]), str(out),
                           figure=str(tmp_path / "pred.png"))
    assert [p.split for p in parts] == ["train"]  # one tree: no separate test split
    back = read_assignments_csv(str(out))[0]
    assert back.images == run_rows.images == paths
    assert back.clusters.tolist() == run_rows.clusters.tolist()
    assert np.allclose(back.confidence, run_rows.confidence, atol=1e-5)
    assert (tmp_path / "pred.png").stat().st_size > 1000


def test_predict_on_a_folder_with_classes_and_splits(folder_run, tmp_path):  # noqa: F811
    save, paths, _ = folder_run
    for split, names in (("train", paths[:10]), ("test", paths[10:14])):
        for i, path in enumerate(names):
            target = tmp_path / "data" / split / f"c{i % 2}"
            target.mkdir(parents=True, exist_ok=True)
            os.link(path, target / os.path.basename(path))
    parts = predict_folder(str(save / "latest_model.pth"), str(tmp_path / "data"), str(tmp_path / "p.csv"))
    assert [(p.split, len(p.images)) for p in parts] == [("train", 10), ("test", 4)]
    assert set(parts[0].true_class.tolist()) == {0, 1}


def test_predict_on_digits_checkpoint_rebuilds_the_two_head_net(digits_run):  # noqa: F811
    from usb_asd.predict import load_model

    save, _ = digits_run
    model, settings = load_model(str(save / "latest_model.pth"), torch.device("cpu"))
    assert settings["args"]["net"] == "cnn_small" and hasattr(model, "instance_head")
    assert not model.training


def test_checkpoints_predict_cannot_use(tmp_path, capsys):
    with pytest.raises(PredictError, match="does not exist"):
        predict_folder(str(tmp_path / "none.pth"), str(tmp_path), str(tmp_path / "o.csv"))
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(PredictError, match="not a readable checkpoint"):
        predict_folder(str(tmp_path / "junk.pth"), str(tmp_path), str(tmp_path / "o.csv"))
    torch.save({"model": {}, "ema_model": {}}, tmp_path / "usb.pth")
    assert run_from_command_line(["--load_path", str(tmp_path / "usb.pth"), "--data_dir", str(tmp_path),
                                  "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "load_path" in err and "clustering run" in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_the_command_runs_and_fails_cleanly(folder_run, tmp_path, capfd):  # noqa: F811
    save, paths, _ = folder_run
    flags = ["--load_path", str(save / "latest_model.pth"), "--out", str(tmp_path / "o.csv")]
    ok = subprocess.run([sys.executable, "-m", "usb_asd.predict", *flags, "--data_dir", os.path.dirname(paths[0])],
                        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "24 train images" in ok.stdout and (tmp_path / "o.csv").exists()
    os.remove(tmp_path / "o.csv")
    # The refusal in this process (a second interpreter costs ~15 s of imports): the process above shows that
    # the command's returned code is its exit status (usb_asd.predict.main); capfd reads file descriptors
    # 1 and 2 themselves, as the process's pipes would.
    assert run_from_command_line([*flags, "--data_dir", str(tmp_path / "nowhere")]) == 2
    out, err = capfd.readouterr()
    assert "Traceback" not in err + out and "nowhere" in err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("settings", [{"algorithm": "comatch"}, {"algorithm": "fixmatch", "supercm": True}],
                         ids=["comatch_net_wrapper", "supercm_head"])
def test_predict_rebuilds_learners_that_wrap_the_net(tmp_path, settings):
    """The checkpoint's weights load strictly into the rebuilt net, whatever the learner wraps around it."""
    from tests.conftest import digits_config
    from tests.outputs.conftest import ASD, run
    from usb_asd.predict import load_model

    run(digits_config(tmp_path, **{**ASD, **settings, "num_train_iter": 6, "num_eval_iter": 6}))
    model, loaded = load_model(str(tmp_path / "run" / "latest_model.pth"), torch.device("cpu"))
    assert loaded["args"]["algorithm"] == settings["algorithm"]
    assert model(torch.zeros(2, 3, 8, 8))["logits"].shape == (2, 10)
