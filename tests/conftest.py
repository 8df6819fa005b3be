"""Shared test settings: few threads (CI has 2 cores) and a small digits config."""

import os

import pytest
import torch

# Before any test module imports semilearn: usb_asd makes torchvision importable
# on a CPU-only torch (usb_asd.compat), as it does for users.
import usb_asd  # noqa: E402,F401

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def digits_config(tmp_path, **overrides) -> list:
    """Command-line words for a short CPU run on digits (keys as in config/*.yaml)."""
    settings = {
        "algorithm": "fixmatch", "dataset": "digits", "net": "cnn_small", "num_classes": 10,
        "num_labels": 40, "batch_size": 16, "uratio": 2, "eval_batch_size": 256,
        "num_train_iter": 40, "num_eval_iter": 20, "num_log_iter": 10, "epoch": 1,
        "img_size": 8, "ema_m": 0.9, "lr": 0.03, "num_workers": 0, "seed": 0,
        "save_dir": str(tmp_path), "save_name": "run", "gpu": None,
    }
    settings.update(overrides)
    path = tmp_path / "config.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in settings.items() if v is not None or k == "gpu"))
    return ["--c", str(path)]


@pytest.fixture
def make_digits_config(tmp_path):
    return lambda **overrides: digits_config(tmp_path, **overrides)
