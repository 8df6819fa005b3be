"""GPU readiness check: FreeMatch with labels against ASD + FreeMatch, same net and batches, on real images.

    python benchmarks/gpu_check.py --out benchmarks/results/gpu_check.json          # on a GPU
    python benchmarks/gpu_check.py --dry --out /tmp/gpu_check_dry.json              # CPU, seconds

Run by ``benchmarks/gpu_check.sh`` (which also installs what is missing and runs the
GPU tests). Steps:

1. CIFAR-format files (the python-pickle release layout, ``cifar-10-batches-py``)
   made from scikit-learn's digits: 1,797 real 8x8 handwritten digits, resized to
   32x32, three equal channels; 1,437 train, 360 test.
2. ``config/freematch_cifar10_40.yaml`` (FreeMatch, 40 labels) and
   ``config/asd_freematch_cifar10.yaml`` (ASD + FreeMatch, no labels), both
   ``resnet18_cifar`` at 32x32 with the configs' batches (64 labelled, 7 x 64
   unlabelled), ``--iters`` iterations each, on those files; only the schedule is
   shortened (ASD's warm-up, re-clustering and redraw periods scale with
   ``--iters``) and evaluation runs once, at the end.
3. JSON: each run's mean time per iteration (``mean_iter_s``: every hook, ASD's
   re-clusterings and redraws included) and median step (``median_step_s``), their
   ASD / labels ratios, the ASD run's clustering scores, device, commit, machine.

``--dry`` runs the same code on CPU at toy sizes (3 iterations, batch 4, the
small CNN instead of ResNet-18, 80 train images), so
that the script itself is tested (``tests/benchmarks/test_gpu_check.py``); its
figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GT_CONFIG = os.path.join(REPO, "config", "freematch_cifar10_40.yaml")
ASD_CONFIG = os.path.join(REPO, "config", "asd_freematch_cifar10.yaml")


def write_digits_as_cifar10(root: str, num_test: int = 360, num_train: Optional[int] = None) -> Dict[str, int]:
    """Write scikit-learn's digits as a CIFAR-10 python release under ``root/cifar-10-batches-py``.

    Args:
        root: Parent folder (the run's ``data_dir``).
        num_test: Images of the test split (the last ones); the rest are the train split.
        num_train: Keep only the first ``num_train`` train images (``--dry``'s toy size).

    Returns:
        ``{"train": n_train, "test": n_test}``.
    """
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0 * 255.0).round().astype(np.uint8)  # (1797, 8, 8), 0..16 -> 0..255
    big = np.stack([np.asarray(Image.fromarray(im).resize((32, 32), Image.BILINEAR)) for im in images])
    rgb = np.repeat(big[:, None, :, :], 3, axis=1)  # (n, 3, 32, 32): CIFAR rows are channel planes
    rows = rgb.reshape(len(rgb), -1)
    labels = digits.target.astype(int).tolist()
    n_train = len(rows) - num_test
    if num_train is not None:  # the first num_train train images, the same test images
        keep = np.r_[0:num_train, n_train:len(rows)]
        rows, labels, n_train = rows[keep], [labels[i] for i in keep], num_train
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    bounds = np.linspace(0, n_train, 6).astype(int)
    for b in range(5):
        part = slice(bounds[b], bounds[b + 1])
        _dump(os.path.join(folder, f"data_batch_{b + 1}"), {
            b"batch_label": f"training batch {b + 1} of 5".encode(), b"labels": labels[part],
            b"data": rows[part], b"filenames": [b"digit.png"] * (bounds[b + 1] - bounds[b]),
        })
    _dump(os.path.join(folder, "test_batch"), {b"labels": labels[n_train:], b"data": rows[n_train:]})
    _dump(os.path.join(folder, "batches.meta"), {
        b"label_names": [str(d).encode() for d in range(10)], b"num_vis": 3072, b"num_cases_per_batch": 0,
    })
    return {"train": n_train, "test": num_test}


def _dump(path: str, payload: Dict[bytes, Any]) -> None:
    with open(path, "wb") as handle:
        pickle.dump(payload, handle)


def run_overrides(iters: int, data_dir: str, save_dir: str, dry: bool) -> Dict[str, Any]:
    """Settings shared by both runs: data, schedule, no evaluation before the end."""
    shared: Dict[str, Any] = {
        "data_dir": data_dir, "save_dir": save_dir, "num_train_iter": iters, "epoch": 1,
        "num_eval_iter": iters, "num_log_iter": max(1, iters // 4), "use_tensorboard": False,
        "overwrite": True, "gpu": None,
    }
    if dry:  # a small net too: resnet18_cifar's CPU backward alone takes seconds per step on 2 loaded cores
        shared.update(batch_size=4, uratio=1, eval_batch_size=64, num_workers=0, net="cnn_small")
    return shared


def asd_schedule(iters: int, dry: bool) -> Dict[str, Any]:
    """ASD's periods scaled to a short run: labels after a quarter, re-clusterings and redraws within it."""
    if dry:
        return {"asd_num_instances": 20, "asd_warmup_iter": 1, "asd_cluster_iter": 1, "asd_round_iter": 2,
                "asd_window": 4}
    return {"asd_warmup_iter": max(1, iters // 4), "asd_cluster_iter": max(1, iters // 10),
            "asd_round_iter": max(1, iters // 3), "asd_window": max(1, iters // 3)}


def train(config: str, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """One run through the train.py path; returns its results record and wall time."""
    from usb_asd.cli import _extra_arguments
    from usb_asd.config import parse_config
    from usb_asd.runner import main

    start = time.perf_counter()
    record = main(parse_config(["--c", config], extra_arguments=_extra_arguments, overrides=overrides))
    record = dict(record or {})
    record["script_wall_s"] = time.perf_counter() - start
    return record


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or b in (None, 0) else float(a) / float(b)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "gpu_check.json"))
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--dry", action="store_true", help="CPU, toy sizes, seconds: checks the script only")
    parser.add_argument("--work_dir", default="", help="where data and runs go (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.dry and "torch" not in sys.modules:
        # Run as a script: hide CUDA before torch is imported, so the CPU path runs. (Called from
        # a process that already imported torch, e.g. the tests, the device stays that process's.)
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    if args.dry:
        args.iters = min(args.iters, 3)

    import torch

    import usb_asd  # noqa: F401  (CPU-only torch: makes torchvision importable)
    from usb_asd.results import git_commit, machine_info, write_json_atomic

    work = args.work_dir or tempfile.mkdtemp(prefix="usb_asd_gpu_check_")
    data_dir = os.path.join(work, "data")
    sizes = write_digits_as_cifar10(data_dir, num_test=20, num_train=80) if args.dry else write_digits_as_cifar10(data_dir)
    shared = run_overrides(args.iters, data_dir, os.path.join(work, "runs"), args.dry)
    gt = train(GT_CONFIG, {**shared, "save_name": "freematch_labels"})
    asd = train(ASD_CONFIG, {**shared, **asd_schedule(args.iters, args.dry), "save_name": "asd_freematch"})
    keys = ("mean_iter_s", "median_step_s", "wall_s", "script_wall_s", "acc", "nmi", "ari", "top1", "device")
    record = {
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "commit": git_commit(),
        "machine": machine_info(),
        "dry": bool(args.dry),
        "torch": torch.__version__,
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "data": {"source": "sklearn digits resized to 32x32, 3 channels, CIFAR-10 python layout", **sizes},
        "iterations": args.iters,
        "configs": {"labels": os.path.relpath(GT_CONFIG, REPO), "asd": os.path.relpath(ASD_CONFIG, REPO)},
        "overrides": {"shared": {k: v for k, v in shared.items() if k not in ("data_dir", "save_dir")},
                      "asd": asd_schedule(args.iters, args.dry)},
        "freematch_labels": {k: gt.get(k) for k in keys},
        "asd_freematch": {k: asd.get(k) for k in keys},
        "ratio_mean_iter": _ratio(asd.get("mean_iter_s"), gt.get("mean_iter_s")),
        "ratio_median_step": _ratio(asd.get("median_step_s"), gt.get("median_step_s")),
    }
    write_json_atomic(args.out, record)
    print(f"labels {gt.get('mean_iter_s')} s/iter, ASD {asd.get('mean_iter_s')} s/iter, "
          f"ratio {record['ratio_mean_iter']}; ASD acc {asd.get('acc')} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
