"""``bn_recalibration: pool`` measured on finished runs: the final model with and without it, offline.

    python benchmarks/bn_recalibration_offline.py RUN_DIR [RUN_DIR ...] \\
        --out benchmarks/results/mnist5k_bn_recalibration.json

The option changes nothing during training: at the end it re-estimates the
final (EMA) model's batch-norm statistics on the pool under the evaluation
transform (:mod:`usb_asd.core.batchnorm_recalibration`). So a finished clustering
run (``adaptor: asd`` or ``num_labels: 0``, whose checkpoint carries its settings) of
the default (its ``latest_model.pth``: EMA weights with the training-time
statistics, what the run scored) is the pair of one with the option, and this
script computes the option's final model from it with the plugin's own
function, as its hook would (same batches, same order). Each run is scored on
the validation part of the pool (``val_acc``, ``val_nmi``, ``val_ari``: the
labels a setting may be chosen with) and on the test split (``acc``, ``nmi``,
``ari``: reported only), ``stored`` against ``pool``. ``stored`` must reproduce
the run's own results.json (checked; a mismatch stops the script).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from asd_map_refit_offline import offline_main  # noqa: E402


def score_run(run_dir: str) -> Dict[str, Any]:
    import torch

    from usb_asd.core.batchnorm_recalibration import recalibrate_batchnorm
    from usb_asd.data.registry import DATASETS, load_splits
    from usb_asd.data.usb_datasets import build_usb_datasets
    from usb_asd.metrics import clustering_scores
    from usb_asd.outputs.assignments import dataset_logits
    from usb_asd.predict import build_model, read_checkpoint
    from usb_asd.validation import validation_indices

    checkpoint = read_checkpoint(os.path.join(run_dir, "latest_model.pth"))
    settings = checkpoint["usb_asd_run"]
    args = argparse.Namespace(**settings["args"])
    model = build_model(settings)
    model.load_state_dict({k[len("module."):] if k.startswith("module.") else k: v
                           for k, v in checkpoint["ema_model"].items()})
    model.eval()
    splits = load_splits(args.dataset, args.data_dir, args.num_classes)
    kind = getattr(args, "image_kind", None) or DATASETS[args.dataset].kind
    datasets = build_usb_datasets(splits, args.algorithm, kind, args.img_size, args.crop_ratio, 0, args.seed)
    pool, test, transform = datasets["train_ulb"], datasets["eval"], datasets["eval"].transform
    pool_targets = np.asarray(pool.targets)
    val = validation_indices(pool_targets)
    device = torch.device("cpu")

    def scores() -> Dict[str, float]:
        with torch.no_grad():
            val_pred = dataset_logits(model, pool, transform, device, args.eval_batch_size, indices=val).argmax(1)
            test_pred = dataset_logits(model, test, transform, device, args.eval_batch_size).argmax(1)
        out = {f"val_{k}": float(v) for k, v in clustering_scores(pool_targets[val], val_pred).items()}
        out.update({k: float(v) for k, v in clustering_scores(np.asarray(test.targets), test_pred).items()})
        return out

    stored = scores()
    if not os.path.exists(os.path.join(run_dir, "results.json")):
        raise SystemExit(f"{run_dir}: no results.json (a finished run's folder was expected)")
    with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as handle:
        reported = json.load(handle)
    for key in ("acc", "val_acc"):
        if abs(stored[key] - reported[key]) > 1e-9:
            raise SystemExit(f"{run_dir}: the stored final model scores {key} {stored[key]:.4f}, its results.json "
                             f"{reported[key]:.4f}: this is not the model the run scored")
    images = recalibrate_batchnorm(model, pool, transform, device, args.eval_batch_size)
    model.eval()
    return {"run": os.path.basename(os.path.normpath(run_dir)), "algorithm": args.algorithm,
            "dataset": args.dataset, "seed": int(args.seed), "commit": settings.get("commit"),
            "overrides": {k: getattr(args, k) for k in ("asd_prototype_update", "asd_switch_rule") if hasattr(args, k)},
            "recalibration_images": images,
            "stored": stored, "pool": scores()}


def describe(row: Dict[str, Any]) -> str:
    return (f"val ACC {row['stored']['val_acc']:.4f} -> {row['pool']['val_acc']:.4f}, "
            f"test ACC {row['stored']['acc']:.4f} -> {row['pool']['acc']:.4f}")


def main(argv: List[str] | None = None) -> int:
    return offline_main(__doc__.splitlines()[0], score_run, describe, "bn recalibration", __file__, argv)


if __name__ == "__main__":
    sys.exit(main())
