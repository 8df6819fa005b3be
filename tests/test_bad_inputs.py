"""A table of bad inputs: each ends in one line naming the problem, exit status 2, no traceback, and an
earlier run's files byte-identical afterwards (docs/RELIABILITY.md, "What happens when ...").

One tiny earlier run (ASD + FreeMatch, 6 iterations on a 24-image folder) is made per module and copied
for each case; nearly every case is refused before training, so the table costs seconds.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List

import numpy as np
import pytest
import torch
from PIL import Image

from usb_asd.cli import run_from_command_line

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The earlier run: ASD + FreeMatch on a folder of 3 classes x 8 images, every ASD stage reached in 6 steps.
SETTINGS = {
    "algorithm": "freematch", "adaptor": "asd", "num_labels": 0, "dataset": "folder", "num_classes": 3,
    "net": "cnn_small", "img_size": 8, "batch_size": 8, "uratio": 2, "eval_batch_size": 32,
    "num_train_iter": 6, "num_eval_iter": 3, "num_log_iter": 3, "epoch": 1, "ema_m": 0.9, "lr": 0.03,
    "num_workers": 0, "seed": 0, "asd_warmup_iter": 2, "asd_cluster_iter": 2, "asd_round_iter": 3,
    "asd_window": 10, "save_name": "run", "gpu": None, "progress_bar": False,
}


def _image(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _data(root):
    for c, name in enumerate("abc"):
        for i in range(8):
            _image(root / name / f"{i}.png", 10 * c + i)
    return root


def _write_config(path, settings) -> List[str]:
    def text(value):
        return "null" if value is None else str(value)

    path.write_text("".join(f"{key}: {text(value)}\n" for key, value in settings.items()))
    return ["--c", str(path)]


def _snapshot(folder) -> Dict[str, str]:
    """Every file under ``folder`` (hidden ones too), by relative path, as a hash of its bytes."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            found[rel] = "dir" if os.path.isdir(path) else hashlib.sha256(open(path, "rb").read()).hexdigest()
    return found


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    root = tmp_path_factory.mktemp("earlier")
    settings = {**SETTINGS, "data_dir": str(_data(root / "data")), "save_dir": str(root / "runs")}
    assert run_from_command_line(_write_config(root / "config.yaml", settings)) == 0
    assert {"results.json", "assignments.csv", "clusters.png", "latest_model.pth", "log.txt"} <= set(
        os.listdir(root / "runs" / "run"))
    return root


@dataclass
class World:
    """A copy of the earlier run and its data in a test's own folder."""

    root: object
    settings: dict

    @property
    def data(self):
        return self.root / "data"

    @property
    def run(self):
        return self.root / "runs" / "run"

    @property
    def checkpoint(self):
        return str(self.run / "latest_model.pth")

    @property
    def loose(self):
        """20 images directly in a folder (no classes): any number of clusters may be asked for."""
        return self.root / "loose"

    def config(self, **changes) -> List[str]:
        return _write_config(self.root / "config.yaml", {**self.settings, **changes})


@pytest.fixture
def world(earlier, tmp_path):
    shutil.copytree(earlier / "data", tmp_path / "data", symlinks=True)
    for i in range(20):
        _image(tmp_path / "loose" / f"{i}.png", 200 + i)
    shutil.copytree(earlier / "runs", tmp_path / "runs")
    return World(tmp_path, {**SETTINGS, "data_dir": str(tmp_path / "data"), "save_dir": str(tmp_path / "runs")})


class _RunsOnLoad:
    """Pickles to ``open(marker, "w")``: unpickling it without weights_only creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _cut(path):
    """A PNG whose header is fine and whose pixel data is cut short."""
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[:2000])


def _file_link_loop(w: World):
    (w.data / "a" / "x.png").symlink_to("y.png")
    (w.data / "a" / "y.png").symlink_to("x.png")
    return w.config()


def _folder_twice(w: World):
    (w.data / "d").symlink_to(w.data / "a")
    return w.config(num_classes=4)


def _file_twice(w: World):
    (w.data / "b" / "again.png").symlink_to(w.data / "a" / "0.png")
    return w.config()


def _truncated(w: World):
    _cut(w.data / "b" / "3.png")
    return w.config()


def _empty_class(w: World):
    (w.data / "hollow").mkdir()
    return w.config(num_classes=4)


def _plain_state_dict(w: World):
    path = w.root / "weights.pth"
    torch.save({"conv.weight": torch.ones(3)}, path)
    return w.config(resume=True, load_path=str(path))


def _grown_data(w: World):
    _image(w.data / "a" / "extra.png", 99)
    return w.config(resume=True, load_path=w.checkpoint)


def _other_same_size_data(w: World):
    for i in range(8):  # the same names and count, other images (and sizes): a different folder
        _image(w.data / "c" / f"{i}.png", 500 + i)
        (w.data / "c" / f"{i}.png").rename(w.data / "c" / f"n{i}.png")
    return w.config(resume=True, load_path=w.checkpoint)


def _payload_checkpoint(w: World):
    checkpoint = torch.load(w.checkpoint, map_location="cpu", weights_only=True)
    checkpoint["best_it"] = _RunsOnLoad(w.root / "ran")
    torch.save(checkpoint, w.root / "payload.pth")
    return w.config(resume=True, load_path=str(w.root / "payload.pth"))


def _truncated_checkpoint(w: World):
    data = open(w.checkpoint, "rb").read()
    (w.root / "cut.pth").write_bytes(data[: len(data) // 2])
    return w.config(resume=True, load_path=str(w.root / "cut.pth"))


def _payload_weights(w: World):
    torch.save({"model": {"conv.weight": _RunsOnLoad(w.root / "ran")}}, w.root / "payload.pth")
    return w.config(use_pretrain=True, pretrain_path=str(w.root / "payload.pth"))


def _int_weights(w: World):
    torch.save(7, w.root / "seven.pth")
    return w.config(use_pretrain=True, pretrain_path=str(w.root / "seven.pth"))


def _wrong_checksum(w: World):
    torch.save({"model": {"conv.weight": torch.ones(3)}}, w.root / "w.pth")
    return w.config(use_pretrain=True, pretrain_path=str(w.root / "w.pth"), pretrain_sha256="ab" * 32)


def _start(w: World, clusters=None, names=None, header="image,cluster", **changes):
    """A run of the world's config started from a CSV of its 24 pool images (class folder a, b, c -> 0, 1, 2)."""
    pool = [str(w.data / name / f"{i}.png") for name in "abc" for i in range(8)]
    names = pool if names is None else names
    clusters = [i // 8 for i in range(24)] if clusters is None else clusters
    path = w.root / "start.csv"
    path.write_text(header + "\n" + "".join(f"{n},{c}\n" for n, c in zip(names, clusters)))
    return w.config(**{"asd_init_assignments": str(path), **changes})


def _start_npy(w: World, count: int):
    np.save(w.root / "start.npy", np.arange(count) % 3)
    return w.config(asd_init_assignments=str(w.root / "start.npy"))


def _selflabel_npy(w: World):
    """Self-labelling from a .npy of ids: no confidences to pick each cluster's most trusted images by."""
    np.save(w.root / "start.npy", np.arange(24) % 3)
    return w.config(adaptor="selflabel", selflabel_assignments=str(w.root / "start.npy"))


def _yaml(w: World, text: str):
    (w.root / "config.yaml").write_text(text)
    return ["--c", str(w.root / "config.yaml")]


@dataclass
class Case:
    """A bad input: how to make it, and what the one line must name."""

    make: Callable[[World], List[str]]
    expected: List[str]


CASES: Dict[str, Case] = {
    # settings alone
    "misspelt key": Case(lambda w: w.config(asd_windw=10), ["unknown key 'asd_windw'", "did you mean 'asd_window'"]),
    "wrong type": Case(lambda w: w.config(lr="fast"), ["key 'lr' must be a number, got 'fast'"]),
    "unknown dataset": Case(lambda w: w.config(dataset="mnist5kk"),
                            ["key 'dataset': unknown data set 'mnist5kk'", "did you mean 'mnist5k'"]),
    "negative lr": Case(lambda w: w.config(lr=-0.1), ["key 'lr' must be a positive number", "-0.1"]),
    "zero image size": Case(lambda w: w.config(img_size=0), ["key 'img_size' must be a positive number", "got 0"]),
    "one cluster with ASD": Case(lambda w: w.config(num_classes=1), ["num_classes", "must be >= 2, got 1"]),
    "gpu without CUDA": Case(lambda w: w.config(gpu=3), ["gpu: 3"]),
    "unknown net": Case(lambda w: w.config(net="cnn_smal"), ["unknown net 'cnn_smal'", "did you mean 'cnn_small'"]),
    "unknown optimiser": Case(lambda w: w.config(optim="Adam"), ["key 'optim'", "SGD or AdamW", "'Adam'"]),
    "unknown learner": Case(lambda w: w.config(algorithm="fixmatchh"), ["unknown USB learner 'fixmatchh'"]),
    "epoch does not divide": Case(lambda w: w.config(num_train_iter=7, epoch=2),
                                  ["num_train_iter (7) must be a positive multiple of epoch (2)"]),
    "warm-up longer than the run": Case(lambda w: w.config(asd_warmup_iter=6), ["asd_warmup_iter (6) must be smaller"]),
    "bad ASD value": Case(lambda w: w.config(asd_mapping="kmeans"), ["asd_mapping must be one of"]),
    "malformed checksum": Case(lambda w: w.config(pretrain_sha256="123"), ["pretrain_sha256", "64 hexadecimal"]),
    "missing config": Case(lambda w: ["--c", str(w.root / "nowhere.yaml")], ["config file not found"]),
    "invalid YAML": Case(lambda w: _yaml(w, "lr: [0.1\n"), ["is not valid YAML"]),
    "overwrite off": Case(lambda w: w.config(overwrite=False), ["already holds a run and overwrite is False"]),
    # data
    "missing data_dir": Case(lambda w: w.config(data_dir=str(w.root / "nowhere")),
                             ["nowhere", "directory does not exist"]),
    "empty class folder": Case(_empty_class, ["class folders without images: hollow"]),
    "too many clusters": Case(lambda w: w.config(data_dir=str(w.loose), num_classes=6),
                              ["num_classes is 6", "20 training images", "4 x num_classes = 24",
                               "num_classes can be at most 5"]),
    "k against class folders": Case(lambda w: w.config(num_classes=4), ["num_classes` is 4", "3 class folders"]),
    "file symlink loop": Case(_file_link_loop, ["x.png' is a symbolic link loop"]),
    "folder linked twice": Case(_folder_twice, ["is the same folder as", "read twice"]),
    "same file twice": Case(_file_twice, ["again.png' is the same file as", "0.png"]),
    "truncated pixel data": Case(_truncated, ["cannot decode image", "3.png", "1 of 24 images", "skip_bad_images"]),
    # a given clustering to start from (asd_init_assignments) or to self-label (selflabel_assignments)
    "start: an image not in the pool": Case(
        lambda w: _start(w, clusters=[i // 8 for i in range(24)] + [0],
                         names=[str(w.data / n / f"{i}.png") for n in "abc" for i in range(8)] + ["/elsewhere/x.png"]),
        ["asd_init_assignments:", "start.csv names 1 image(s) that are not in the training pool ('/elsewhere/x.png')"]),
    "start: a pool image missing": Case(
        lambda w: _start(w, clusters=[i // 8 for i in range(23)],
                         names=[str(w.data / n / f"{i}.png") for n in "abc" for i in range(8)][:23]),
        ["start.csv lacks 1 of the 24 training pool images", "c/7.png"]),
    "start: a cluster id at num_classes": Case(lambda w: _start(w, clusters=[i // 6 for i in range(24)]),
                                               ["start.csv holds cluster id 3", "[0, num_classes = 3)"]),
    "start: fewer clusters than num_classes": Case(lambda w: _start(w, clusters=[i // 12 for i in range(24)]),
                                                   ["start.csv uses 2 distinct clusters but num_classes is 3"]),
    "start: a malformed CSV": Case(lambda w: _start(w, header="path,group"),
                                   ["start.csv is not an assignments CSV: no column 'image' or 'cluster'"]),
    "start: a .npy of the wrong length": Case(lambda w: _start_npy(w, 23), [
        "start.npy holds 23 cluster ids but the training pool has 24 images"]),
    "start: a missing file": Case(lambda w: w.config(asd_init_assignments=str(w.root / "none.csv")),
                                  ["asd_init_assignments:", "none.csv does not exist"]),
    "start: a random map": Case(lambda w: _start(w, asd_mapping="random"),
                                ["asd_init_assignments is refined by the chain's maps", "asd_mapping: random"]),
    "start: without ASD": Case(lambda w: _start(w, adaptor="none", num_labels=-1),
                               ["key 'asd_init_assignments' is read by adaptor: asd"]),
    "self-labelling without a clustering": Case(lambda w: w.config(adaptor="selflabel"),
                                                ["adaptor: selflabel needs selflabel_assignments"]),
    "self-labelling without confidences": Case(_selflabel_npy, ["selflabel_assignments:",
                                                                 "start.npy has no confidence column"]),
    "resume from another start": Case(lambda w: _start(w, resume=True, load_path=w.checkpoint),
                                      ["other settings", "asd_init_assignments: None ->"]),
    # resume
    "resume without a checkpoint": Case(lambda w: w.config(resume=True, load_path=str(w.run / "none.pth")),
                                        ["none.pth", "does not exist"]),
    "resume a truncated checkpoint": Case(_truncated_checkpoint, ["cut.pth (load_path) cannot be resumed from",
                                                                  "truncated"]),
    "resume a checkpoint carrying code": Case(_payload_checkpoint, [
        "payload.pth (load_path) cannot be read: it holds pickled objects", "neither loaded nor run"]),
    "resume a plain state dict": Case(_plain_state_dict, ["weights.pth (load_path) is not a training checkpoint",
                                                          "use_pretrain: True"]),
    "resume with other ASD settings": Case(lambda w: w.config(resume=True, load_path=w.checkpoint, asd_window=20),
                                           ["saved by a run with other settings", "asd_window: 10 -> 20"]),
    "resume with another adaptor": Case(lambda w: w.config(resume=True, load_path=w.checkpoint, adaptor="none",
                                                           num_labels=-1),
                                        ["other settings", "adaptor: asd -> None"]),
    "resume on more data": Case(_grown_data, ["trained on another training pool", "24 -> 25 training images"]),
    "resume on other data of the same size": Case(_other_same_size_data, [
        "trained on another training pool", "the same number of images (24) but other files"]),
    # pretrained weights
    "weights with a pickle payload": Case(_payload_weights, [
        "payload.pth", "cannot be read as weights", "holds pickled objects, not only tensors (first: io.open)"]),
    "weights of the wrong structure": Case(_int_weights, ["seven.pth", "holds an int", "expected a state dict"]),
    "weights with another checksum": Case(_wrong_checksum, ["w.pth", "not pretrain_sha256"]),
    "weights over http": Case(lambda w: w.config(use_pretrain=True, pretrain_path="http://example.org/w.pth"),
                              ["only local files and https:// addresses"]),
    "missing weights": Case(lambda w: w.config(use_pretrain=True, pretrain_path=str(w.root / "none.pth")),
                            ["none.pth", "does not exist"]),
}


NO_GPU_3 = torch.cuda.device_count() <= 3


def _refused(argv, capsys) -> str:
    assert run_from_command_line(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.skipif(
    c == "gpu without CUDA" and not NO_GPU_3, reason="this machine has a GPU 3")) for c in CASES])
def test_a_bad_input_is_one_line_and_leaves_the_earlier_run_as_it_was(world, case, capsys):
    before = _snapshot(world.root / "runs")
    line = _refused(CASES[case].make(world), capsys)
    for fragment in CASES[case].expected:
        assert fragment in line, line
    assert _snapshot(world.root / "runs") == before
    assert not (world.root / "ran").exists()  # no weights file ran anything


def test_a_full_disk_at_the_first_checkpoint_keeps_the_earlier_run(world, capsys, monkeypatch):
    from usb_asd.core import atomic_io

    real = atomic_io.write_bytes_atomic

    def full(path, data, setting=None):
        if os.path.basename(path) == "latest_model.pth":
            def no_space(handle):
                handle.write(bytes(data[: len(data) // 2]))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            return atomic_io.write_atomic(path, no_space, setting=setting)
        return real(path, data, setting=setting)

    monkeypatch.setattr(atomic_io, "write_bytes_atomic", full)
    before = _snapshot(world.root / "runs")
    line = _refused(world.config(seed=1), capsys)  # trains 3 iterations, then the disk is full
    assert "No space left on device [ENOSPC]" in line and "latest_model.pth" in line
    assert _snapshot(world.root / "runs") == before


def test_a_rerun_replaces_the_earlier_run_whole_at_its_first_checkpoint(world, capsys):
    old = (world.run / "results.json").read_text()
    assert run_from_command_line(world.config(seed=1)) == 0
    assert (world.run / "results.json").read_text() != old
    assert sorted(os.listdir(world.root / "runs")) == ["run"]  # no incoming or replaced folder left


def test_skipping_bad_images_is_asked_for_and_lists_them(world, capsys):
    import json

    _cut(world.data / "b" / "3.png")
    assert run_from_command_line(world.config(skip_bad_images=True)) == 0
    record = json.loads((world.run / "results.json").read_text())
    assert record["skipped_images"] == [str(world.data / "b" / "3.png")]
    assert record["data_fingerprint"]["pool"]["images"] == 23
    rows = (world.run / "assignments.csv").read_text()
    assert "b/3.png" not in rows and "b/2.png" in rows


def test_resuming_a_run_whose_starting_clustering_changed_is_refused(world, capsys):
    """The same file name, other contents: the checkpoint's labels and maps belong to the old clustering."""
    assert run_from_command_line(_start(world, save_name="started")) == 0
    checkpoint = str(world.root / "runs" / "started" / "latest_model.pth")
    before = _snapshot(world.root / "runs")
    changed = _start(world, clusters=[(i // 8 + 1) % 3 for i in range(24)], save_name="started", resume=True,
                     load_path=checkpoint)
    line = _refused(changed, capsys)
    assert "was started from another given clustering than" in line and "start.csv now holds" in line
    assert _snapshot(world.root / "runs") == before
    assert run_from_command_line(_start(world, save_name="started", resume=True, load_path=checkpoint)) == 0


def test_resuming_a_finished_run_keeps_its_training_time(world, capsys):
    import json

    first = json.loads((world.run / "results.json").read_text())["wall_s"]
    recorded = torch.load(world.checkpoint, map_location="cpu", weights_only=True)["wall_s"]
    assert run_from_command_line(world.config(resume=True, load_path=world.checkpoint)) == 0
    again = json.loads((world.run / "results.json").read_text())["wall_s"]
    # The first run's training time (recorded at its last checkpoint), plus the resume's short evaluation.
    assert again >= recorded > 0.5 * first


# ---- the comparison command and choose_k: the same guarantee for their output folders ----

def _grid_config(w: World, out, **base):
    lines = ["grid:", "  learners: [freematch]", "  labels: [0]", "  seeds: [0]", f"  out: {out}",
             "  classical: []", "base:"]
    settings = {k: v for k, v in {**w.settings, **base}.items()
                if k not in ("algorithm", "adaptor", "num_labels", "save_dir", "save_name", "seed")
                and not k.startswith("asd_")}
    lines += [f"  {k}: {'null' if v is None else v}" for k, v in settings.items()]
    lines += ["asd:"] + [f"  {k}: {v}" for k, v in w.settings.items() if k.startswith("asd_")]
    (w.root / "grid.yaml").write_text("\n".join(lines) + "\n")
    return str(w.root / "grid.yaml")


@pytest.mark.parametrize("flags, expected", [
    (["--set", "lr=-1"], "key 'lr' must be a positive number"),
    (["--data_dir", "/nowhere/at/all"], "directory does not exist"),
    (["--set", "gpu=3"], "gpu: 3"),
])
def test_the_comparison_command_refuses_before_touching_an_earlier_grid(world, capsys, flags, expected):
    from usb_asd.compare.__main__ import run_from_command_line as compare

    out = world.root / "grid"
    (out / "runs").mkdir(parents=True)
    shutil.copytree(world.run, out / "runs" / "fixmatch_gt40_seed0")  # a finished cell of an earlier grid
    (out / "results.md").write_text("the earlier report\n")
    before = _snapshot(out)
    assert compare(["--c", _grid_config(world, out), *flags]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert _snapshot(out) == before


def test_choose_k_refuses_before_touching_an_earlier_search(world, capsys):
    from usb_asd.choose_k import run_from_command_line as choose_k

    out = world.root / "search"
    out.mkdir()
    shutil.copytree(world.run, out / "k3_seed0")
    (out / "choose_k.md").write_text("the earlier table\n")
    before = _snapshot(out)
    config = world.config(data_dir=str(world.loose))[1]
    for flags, expected in ((["--k", "3", "30"], "num_classes can be at most 5"),
                            (["--k", "3", "--data_dir", str(world.root / "nowhere")], "directory does not exist"),
                            (["--k", "1", "3"], "--k needs candidate numbers of clusters >= 2")):
        assert choose_k(["--c", config, *flags, "--seeds", "0", "1", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert expected in err and len(err.splitlines()) == 1, err
        assert _snapshot(out) == before
    # A finished run of the earlier search (on the 24-image folder) is not mixed into a search on other data.
    assert choose_k(["--c", config, "--k", "3", "--seeds", "0", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "k3_seed0 is a finished run on other data (24 -> 20 training images" in err
    assert _snapshot(out) == before


# ---- as a real process: the line and the exit status the user sees ----

# "unknown dataset" is slow: a settings error like tests/test_cli.py's misspelt key, shown in a real process by
# its "unreadable image" (~15 s of imports per process); the table above checks its line in process.
@pytest.mark.parametrize("case", [pytest.param("unknown dataset", marks=pytest.mark.slow), pytest.param(
    "gpu without CUDA", marks=pytest.mark.skipif(not NO_GPU_3, reason="this machine has a GPU 3"))])
def test_the_train_command_prints_one_line_and_exits_2(world, case):
    before = _snapshot(world.root / "runs")
    result = subprocess.run([sys.executable, "train.py", *CASES[case].make(world)], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and all(fragment in lines[0] for fragment in CASES[case].expected)
    assert _snapshot(world.root / "runs") == before


def test_a_rerun_killed_before_its_first_checkpoint_leaves_the_earlier_run(world):
    import signal
    import time

    from usb_asd.core.run_folder import incoming_path, recover

    before = _snapshot(world.run)
    argv = world.config(seed=1, num_train_iter=400, num_eval_iter=200)  # the first checkpoint is far away
    incoming = incoming_path(str(world.run))
    proc = subprocess.Popen([sys.executable, "train.py", *argv], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while not os.path.exists(os.path.join(incoming, "log.txt")) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert os.path.exists(incoming), "the run never started training"
        time.sleep(1.0)  # a few iterations into the new run
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert _snapshot(world.run) == before  # killed midway: the earlier run, whole
    assert recover(str(world.run)) and not os.path.exists(incoming)  # the next start clears what the kill left
    assert _snapshot(world.run) == before
