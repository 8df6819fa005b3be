"""The GPU check's script runs end to end in its CPU dry mode."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import gpu_check  # noqa: E402
import torch  # noqa: E402


def test_digits_are_written_in_the_cifar10_layout_the_loader_reads(tmp_path):
    from usb_asd.data.cifar import load_cifar10

    sizes = gpu_check.write_digits_as_cifar10(str(tmp_path), num_test=20, num_train=50)
    splits = load_cifar10(str(tmp_path))
    assert sizes == {"train": 50, "test": 20}
    assert splits.train_images.shape == (50, 32, 32, 3) and splits.test_images.shape == (20, 32, 32, 3)
    assert (splits.train_images[..., 0] == splits.train_images[..., 2]).all()  # three equal channels
    assert splits.train_images.max() > 200 and len(set(splits.train_targets.tolist())) == 10


def test_dry_mode_writes_the_ratio(tmp_path):
    out = tmp_path / "gpu_check.json"
    assert gpu_check.main(["--dry", "--out", str(out), "--work_dir", str(tmp_path / "work")]) == 0
    record = json.loads(out.read_text())
    assert record["dry"] and record["iterations"] == 3
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert record["freematch_labels"]["device"].startswith(expected)
    assert record["asd_freematch"]["device"].startswith(expected)
    assert record["ratio_mean_iter"] > 0 and record["commit"]
