"""Label-free diagnosis of domain-adaptation checkpoints: is the source fitted, does the target collapse?

    python benchmarks/investigations/da_checkpoint_diagnosis.py \
        --runs saved_models/benchmarks/da_source_only_mnist5k_digits_seed0 \
        --out benchmarks/results/da_checkpoint_diagnosis.json

For each run folder (``results.json`` + ``latest_model.pth`` of a DA run), for
the trained weights (``model``) and the evaluated EMA weights (``ema_model``):

* ``source_train_fit``: top-1 on the source's own *training* images (labels the
  run trained on; no held-out or target label is read);
* ``target_top_share``: the share of the target's training images in the most
  predicted class (no label needed), with BatchNorm's running statistics, and
  ``target_top_share_target_bn`` with BatchNorm on target batch statistics
  (the first ``--bn_batch`` target images, in training mode, without updating
  the stored statistics).
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import sys
from typing import Any, Dict, List, Tuple

import numpy as np
import torch

# benchmarks/investigations/ -> the repository root (usb_asd), and this folder (offline_results)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # when loaded from elsewhere

import usb_asd  # noqa: E402,F401
from usb_asd.data.registry import DATASETS, load_splits  # noqa: E402
from usb_asd.data.transforms import build_augmentations  # noqa: E402
from usb_asd.results import git_commit, machine_info, write_json_atomic  # noqa: E402
from offline_results import eval_images  # noqa: E402  (this folder)


def top_share(predictions: np.ndarray, num_classes: int) -> float:
    """Share of the most frequent predicted class (1.0: everything in one class)."""
    predictions = np.asarray(predictions, dtype=np.int64)
    return float(np.bincount(predictions, minlength=num_classes).max() / max(len(predictions), 1))


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_settings(record: Dict[str, Any]) -> Tuple[str, int, float]:
    """``(data_dir, img_size, crop_ratio)`` of a run, from its config and overrides as ``train.py`` read them.

    Args:
        record: The run's ``results.json`` (``config``: path relative to the repository, ``overrides``).
    """
    from usb_asd.cli import _extra_arguments
    from usb_asd.config import parse_config

    config = record.get("config")
    if not config:
        raise SystemExit("error: the run's results.json names no config; its input pipeline cannot be rebuilt")
    path = config if os.path.isabs(config) else os.path.join(ROOT, config)
    args = parse_config(["--c", path], extra_arguments=_extra_arguments, overrides=dict(record.get("overrides") or {}))
    return str(args.data_dir), int(args.img_size), float(args.crop_ratio)


@functools.lru_cache(maxsize=2)
def _pair(source_name: str, target_name: str, num_classes: int, data_dir: str, img_size: int, crop_ratio: float):
    """Both domains' splits and training images through the run's evaluation pipeline (source statistics)."""
    source = load_splits(source_name, data_dir, num_classes)
    target = load_splits(target_name, data_dir, num_classes)
    tf = build_augmentations(DATASETS[source_name].kind, img_size, crop_ratio, source.mean, source.std).eval
    return source, target, eval_images(source.train_images, tf), eval_images(target.train_images, tf)


@torch.no_grad()
def _predict(net, x: torch.Tensor, batch: int = 512) -> np.ndarray:
    return torch.cat([net(x[i:i + batch])["logits"].argmax(1) for i in range(0, len(x), batch)]).numpy()


def diagnose(run_dir: str, bn_batch: int = 512) -> Dict[str, Any]:
    """The scores above for one run folder, its images prepared as the run's config says (:func:`run_settings`)."""
    from semilearn.core.utils import get_net_builder

    from usb_asd import plugin

    with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as handle:
        record = json.load(handle)
    source, target, x_source, x_target = _pair(record["dataset"], record["target_dataset"], record["num_classes"],
                                               *run_settings(record))
    checkpoint = torch.load(os.path.join(run_dir, "latest_model.pth"), map_location="cpu", weights_only=False)
    plugin.register()
    out: Dict[str, Any] = {"run": os.path.basename(run_dir), "config": record.get("config"), "seed": record["seed"],
                           "iterations": record["iterations"]}
    for key in ("model", "ema_model"):
        net = get_net_builder(record["net"], False)(num_classes=record["num_classes"])
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in checkpoint[key].items()}
        net.load_state_dict(state)  # a SuperCM run (CM head) does not load: diagnose source-only and DANN runs
        net.eval()
        fit = float(np.mean(_predict(net, x_source) == source.train_targets))
        share = top_share(_predict(net, x_target), record["num_classes"])
        bn_net = copy.deepcopy(net).train()
        with torch.no_grad():
            bn_pred = bn_net(x_target[:bn_batch])["logits"].argmax(1).numpy()
        out[key] = {"source_train_fit": fit, "target_top_share": share,
                    "target_top_share_target_bn": top_share(bn_pred, record["num_classes"])}
    return out


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--bn_batch", type=int, default=512)
    opts = parser.parse_args(argv)
    rows = [diagnose(run, opts.bn_batch) for run in opts.runs]
    for row in rows:
        print(row["run"], {k: {m: round(v, 3) for m, v in row[k].items()} for k in ("model", "ema_model")})
    write_json_atomic(opts.out, {
        "command": "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:])),
        "commit": git_commit(), "machine": machine_info(), "runs": rows,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
