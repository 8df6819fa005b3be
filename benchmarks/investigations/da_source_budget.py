"""Choose the domain-adaptation training budget on the SOURCE domain only.

    flock /tmp/usb_asd_bench.lock python benchmarks/investigations/da_source_budget.py \
        --configs config/da_source_only_mnist5k_digits.yaml config/da_source_only_digits_mnist5k.yaml \
        --budgets 200 1000 2000 --seeds 0 --max_runs 1 --out benchmarks/results/da_source_budget.json

Each run is the source-only config (the same code path as the benchmark) with
two changes: only a stratified part of the source's training split is labelled
(``num_labels``: ``1 - holdout`` of the smallest class, times the class count,
drawn with the run's seed), and the budget is ``num_train_iter``. The final
EMA model is then scored on the *held-out* rest of the source's training split
(source validation: source labels the model never trained on). The target's
test scores that the run computes are dropped from the record before it is
written, so no budget can be chosen with target labels. Runs already in
``--out`` (same config, budget, seed) are skipped, so one call per lock resumes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List

import numpy as np
import torch

# benchmarks/investigations/ -> the repository root (usb_asd), and this folder (offline_results)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # when loaded from elsewhere

import usb_asd  # noqa: E402,F401
from usb_asd.cli import _extra_arguments  # noqa: E402
from usb_asd.config import parse_config  # noqa: E402
from usb_asd.data.labelled_split import select_labelled_indices  # noqa: E402
from usb_asd.data.registry import DATASETS, load_splits  # noqa: E402
from usb_asd.data.transforms import build_augmentations  # noqa: E402
from usb_asd.results import git_commit, machine_info, write_json_atomic  # noqa: E402
from offline_results import eval_images  # noqa: E402  (this folder)

#: Target-domain scores a source-only run computes; never written here.
TARGET_KEYS = ("top1", "acc", "nmi", "ari", "best_top1", "best_it", "degenerate")


def holdout_split(targets: np.ndarray, num_classes: int, holdout: float, seed: int):
    """``(num_labels, labelled, held_out)``: a stratified labelled part and the rest of the split.

    Args:
        targets: The source's training labels.
        num_classes: Classes.
        holdout: Share of the smallest class kept out of training.
        seed: The run's seed (the same draw :func:`select_labelled_indices` makes in the run).

    Returns:
        The ``num_labels`` to train with, the labelled indices and the held-out indices.
    """
    counts = np.bincount(np.asarray(targets), minlength=num_classes)
    per_class = int(np.floor(counts.min() * (1.0 - holdout)))
    num_labels = per_class * num_classes
    labelled = select_labelled_indices(targets, num_labels, num_classes, seed)
    held_out = np.setdiff1d(np.arange(len(targets)), labelled)
    return num_labels, labelled, held_out


@torch.no_grad()
def source_validation_top1(checkpoint: str, args, held_out: np.ndarray) -> float:
    """Top-1 of the checkpoint's EMA model on the held-out source training images."""
    from semilearn.core.utils import get_net_builder

    from usb_asd import plugin

    splits = load_splits(args.dataset, args.data_dir, args.num_classes)
    kind = getattr(args, "image_kind", None) or DATASETS[args.dataset].kind
    tf = build_augmentations(kind, args.img_size, args.crop_ratio, splits.mean, splits.std).eval
    plugin.register()
    net = get_net_builder(args.net, args.net_from_name)(num_classes=args.num_classes)
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    net.load_state_dict(state["ema_model"])
    net.eval()
    x = eval_images(splits.train_images, tf, held_out)
    logits = torch.cat([net(x[i:i + 256])["logits"] for i in range(0, len(x), 256)])
    return float((logits.argmax(1).numpy() == splits.train_targets[held_out]).mean())


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", required=True)
    parser.add_argument("--budgets", nargs="+", type=int, required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--out", required=True)
    parser.add_argument("--save_dir", default="./saved_models/benchmarks")
    parser.add_argument("--max_runs", type=int, default=0)
    opts = parser.parse_args(argv)

    import json

    from usb_asd.runner import main as run

    commit = git_commit()
    previous: Dict[str, Any] = {}
    if os.path.exists(opts.out):
        with open(opts.out, encoding="utf-8") as handle:
            previous = json.load(handle)
    runs: List[Dict[str, Any]] = list(previous.get("runs", []))
    done = {(r["config"], r["iterations"], r["seed"]) for r in runs}
    new_runs = 0
    started = time.time()
    for config in opts.configs:
        for budget in opts.budgets:
            for seed in opts.seeds:
                if (config, budget, seed) in done or (opts.max_runs and new_runs >= opts.max_runs):
                    continue
                new_runs += 1
                base = parse_config(["--c", config], extra_arguments=_extra_arguments)
                splits = load_splits(base.dataset, base.data_dir, base.num_classes)
                num_labels, _, held_out = holdout_split(splits.train_targets, base.num_classes, opts.holdout, seed)
                name = f"{os.path.splitext(os.path.basename(config))[0]}_budget{budget}_seed{seed}"
                args = parse_config(["--c", config], extra_arguments=_extra_arguments, overrides={
                    "seed": seed, "save_name": name, "save_dir": opts.save_dir, "num_labels": num_labels,
                    "num_train_iter": budget, "num_eval_iter": budget, "num_log_iter": budget,
                })
                record = run(args)
                for key in TARGET_KEYS:  # target labels play no part in the choice
                    record.pop(key, None)
                record.update(
                    config=config, num_labels=num_labels, holdout=len(held_out),
                    source_val_top1=source_validation_top1(
                        os.path.join(opts.save_dir, name, "latest_model.pth"), args, held_out),
                )
                runs.append(record)
                print(f"[source budget] {config} {budget} it seed {seed}: source validation top-1 "
                      f"{record['source_val_top1']:.4f} ({len(held_out)} held out) in {record['wall_s']:.0f} s")
                write_json_atomic(opts.out, {
                    "command": "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:])),
                    "seeds": opts.seeds, "budgets": opts.budgets, "commit": commit, "machine": machine_info(),
                    "runs": runs,
                })
    print(f"[source budget] wrote {opts.out} ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
