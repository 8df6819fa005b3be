"""Two short clustering runs shared by the output tests (each trains once per session)."""

import numpy as np
import pytest
from PIL import Image

from tests.conftest import digits_config
from usb_asd.cli import _extra_arguments
from usb_asd.config import parse_config
from usb_asd.runner import main

#: A short ASD run (labels built from clusters; none read).
ASD = dict(
    adaptor="asd", num_labels=0, algorithm="freematch", batch_size=8, uratio=4, num_train_iter=12,
    num_eval_iter=6, num_log_iter=6, asd_warmup_iter=4, asd_cluster_iter=4, asd_round_iter=6, asd_window=20,
)


def run(argv):
    return main(parse_config(argv, extra_arguments=_extra_arguments))


def make_unlabelled_folder(folder, count=24, side=12):
    """``count`` PNGs directly in ``folder`` (no class subfolders): dark and bright squares."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        base = 40 if i % 2 else 210
        img = np.clip(base + rng.normal(0, 20, (side, side, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"img_{i:02d}.png")
    return sorted(str(p) for p in folder.glob("*.png"))


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """Save folder of a 12-iteration ASD + FreeMatch run on digits."""
    tmp = tmp_path_factory.mktemp("digits_run")
    record = run(digits_config(tmp, **ASD))
    return tmp / "run", record


@pytest.fixture(scope="session")
def folder_run(tmp_path_factory):
    """Save folder, image paths and record of a short ASD run on a folder without class subfolders."""
    tmp = tmp_path_factory.mktemp("folder_run")
    paths = make_unlabelled_folder(tmp / "images")
    record = run(digits_config(tmp, **{**ASD, "dataset": "folder", "data_dir": str(tmp / "images"),
                                       "num_classes": 2, "img_size": 12, "asd_num_instances": 8,
                                       "eval_batch_size": 16}))
    return tmp / "run", paths, record
