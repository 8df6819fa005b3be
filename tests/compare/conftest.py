"""A tiny comparison grid on digits (seconds per cell on CPU), shared by the compare tests."""

import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: Train settings small enough for tests: a few iterations, every ASD stage reached.
TINY_BASE = {
    "dataset": "digits", "net": "cnn_small", "num_classes": 10, "img_size": 8, "epoch": 1,
    "num_train_iter": 6, "num_eval_iter": 3, "num_log_iter": 3, "batch_size": 8, "uratio": 2,
    "eval_batch_size": 256, "ema_m": 0.9, "lr": 0.03, "num_workers": 0, "gpu": None,
}
TINY_ASD = {"asd_warmup_iter": 2, "asd_cluster_iter": 2, "asd_round_iter": 4, "asd_window": 10}


def _yaml_value(value):
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    return str(value)


def write_grid_config(path, out, learners=("fixmatch", "freematch"), labels=(0, 40), seeds=(0,),
                      classical=("kmeans",), **base):
    """Write a grid config for a tiny grid; returns its path as a string."""
    settings = {**TINY_BASE, **base}
    lines = ["grid:", f"  learners: {_yaml_value(list(learners))}", f"  labels: {_yaml_value(list(labels))}",
             f"  seeds: {_yaml_value(list(seeds))}", f"  out: {out}", f"  classical: {_yaml_value(list(classical))}",
             "base:"]
    lines += [f"  {k}: {_yaml_value(v)}" for k, v in settings.items()]
    lines += ["asd:"] + [f"  {k}: {v}" for k, v in TINY_ASD.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture(scope="session")
def tiny_grid(tmp_path_factory):
    """The tiny grid (fixmatch, freematch) x (0, 40) x seed 0, run once in this process."""
    from usb_asd.compare.__main__ import run_from_command_line

    root = tmp_path_factory.mktemp("tiny_grid")
    out = root / "out"
    config = write_grid_config(root / "grid.yaml", out)
    code = run_from_command_line(["--c", config])
    return {"code": code, "out": out, "config": config}


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_valid_png(path, min_width=300, min_height=200):
    """A real, decodable, reasonably sized PNG that is not one flat colour."""
    import numpy as np
    from PIL import Image

    with open(path, "rb") as handle:
        assert handle.read(8) == PNG_SIGNATURE, f"{path} does not start with the PNG signature"
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()  # decodes every pixel: a truncated file fails here
        width, height = image.size
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    assert min_width <= width <= 4000 and min_height <= height <= 4000, f"{path}: odd size {image.size}"
    assert pixels.std() > 5.0, f"{path} is (nearly) blank"
    # Drawn content, not one colour plus anti-aliasing: many distinct colours.
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20
