"""How semantic ASD's instance stage makes the features, measured on the validation part (cheaper than full runs).

    python benchmarks/asd_instance_stage.py --config config/asd_freematch_mnist5k.yaml --iters 1000 \\
        --seeds 0 1 2 --name after --out benchmarks/results/mnist5k_asd_instance_stage.json

Each seed trains an ordinary ASD run of ``--iters`` steps whose learner trains
on cluster labels only for its last ``--label_iters`` steps (``asd_warmup_iter``
= iters - label_iters and, where the option exists, ``asd_switch_ari`` above 1),
so what the features are is the instance stage's work. The final checkpoint's
raw model (the one ASD's stages read) then gives, on the **validation part** of
the pool (:mod:`usb_asd.validation`, the only labels read):

* ``kmeans_acc``: ACC of a k-means (``k`` clusters) of the whole pool's backbone
  features, scored on the validation part;
* ``purity``: the instance classes' purity (each validation image's argmax
  instance class, the share of images whose class is their instance class's
  majority class);
* ``slot_label_acc``: ACC of the labels the map gives (cluster of each
  image's argmax instance class, from the run's last instance->cluster map);
  the labels the learner would train on.

The same script measures an earlier commit's instance stage (the "before"):
run it from a checkout of that commit with ``--overrides`` for the keys that
version has; it reads only the checkpoint's stable parts (model weights,
``logits_instance``, the mapper's ``mapping``). The result file appends one
named entry per call (``--name``), with its command, commit and machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import usb_asd  # noqa: E402,F401
from usb_asd.cli import _extra_arguments  # noqa: E402
from usb_asd.config import parse_config  # noqa: E402
from usb_asd.results import git_commit, machine_info, write_json_atomic  # noqa: E402

METRICS = ("kmeans_acc", "purity", "slot_label_acc")


def _parse_overrides(text: str) -> Dict[str, Any]:
    from ruamel.yaml import YAML

    out: Dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--overrides: expected key=value, got {item!r}")
        out[key.strip()] = YAML(typ="safe", pure=True).load(value)
    return out


def ctt_mapper_state(asd_state: Dict[str, Any]) -> Any:
    """The class-transition map's k-Medoids state in a checkpoint's ASD state, or None.

    Reads both layouts: ``cluster_map.mapper`` (since the maps' registry) and
    the earlier top-level ``mapper``, so "before" checkpoints of older commits stay readable.
    """
    return asd_state["cluster_map"].get("mapper") if "cluster_map" in asd_state else asd_state.get("mapper")


def run_pool_outputs(run_dir: str) -> Dict[str, Any]:
    """A finished run's checkpoint read back: its raw model's outputs on the whole pool.

    Returns:
        ``checkpoint``, ``args`` (the run's settings), ``targets`` (the pool's classes, read
        only to score), ``val`` (indices of the validation part), ``features`` ``(N, D)``,
        ``instance`` (each image's argmax instance class), ``learner`` (the learner's own
        argmax class), from the model ASD's stages read, and that ``model`` (eval mode).
    """
    import torch

    from usb_asd.data.eval_view import EvalView
    from usb_asd.data.registry import DATASETS, load_splits
    from usb_asd.data.usb_datasets import build_usb_datasets
    from usb_asd.predict import build_model, read_checkpoint
    from usb_asd.validation import validation_indices

    checkpoint = read_checkpoint(os.path.join(run_dir, "latest_model.pth"))
    settings = checkpoint["usb_asd_run"]
    model = build_model(settings)
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in checkpoint["model"].items()}
    model.load_state_dict(state)
    model.eval()
    args = argparse.Namespace(**settings["args"])
    # The run's own pool and evaluation transform, built as its learner built them.
    splits = load_splits(args.dataset, args.data_dir, args.num_classes)
    kind = getattr(args, "image_kind", None) or DATASETS[args.dataset].kind
    datasets = build_usb_datasets(splits, args.algorithm, kind, args.img_size, args.crop_ratio, 0, args.seed)
    pool = datasets["train_ulb"]
    targets = np.asarray(pool.targets)
    loader = torch.utils.data.DataLoader(EvalView(pool, datasets["eval"].transform, np.arange(len(pool))),
                                         batch_size=256, shuffle=False)
    feats, classes, learner = [], [], []
    with torch.no_grad():
        for x in loader:
            out = model(x)
            feats.append(out["feat"].float())
            classes.append(out["logits_instance"].argmax(dim=1))
            learner.append(out["logits"].argmax(dim=1))
    return {"checkpoint": checkpoint, "args": args, "targets": targets, "val": validation_indices(targets),
            "features": torch.cat(feats).numpy(), "instance": torch.cat(classes).numpy(),
            "learner": torch.cat(learner).numpy(), "model": model}


def stage_scores(run_dir: str) -> Dict[str, float]:
    """The three scores of one finished run (its ``latest_model.pth``), on the validation part."""
    from sklearn.cluster import KMeans

    from usb_asd.core.checkpoint_codec import decode
    from usb_asd.metrics import cluster_accuracy

    run = run_pool_outputs(run_dir)
    targets, val, instance = run["targets"], run["val"], run["instance"]
    k = int(run["args"].num_classes)
    kmeans = KMeans(k, n_init=10, random_state=0).fit_predict(run["features"])
    yv, iv = targets[val], instance[val]
    purity = sum(np.bincount(yv[iv == c]).max() for c in np.unique(iv)) / len(val)
    mapper = ctt_mapper_state(decode(run["checkpoint"]["asd"]))
    mapping = None if mapper is None else mapper["mapping"]
    scores = {"kmeans_acc": cluster_accuracy(yv, kmeans[val]), "purity": float(purity),
              "slot_label_acc": None if mapping is None else cluster_accuracy(yv, np.asarray(mapping)[iv]),
              "instance_classes_used": int(len(np.unique(instance)))}
    return scores


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--label_iters", type=int, default=50)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--name", required=True, help="entry name in --out, e.g. before / after")
    parser.add_argument("--overrides", default="", help="key=value,... applied to every run")
    parser.add_argument("--no_gate", action="store_true",
                        help="do not set asd_switch_ari (a version without the label gate)")
    parser.add_argument("--save_dir", default="/tmp/usb_asd_instance_stage")
    parser.add_argument("--out", required=True)
    opts = parser.parse_args(argv)

    from usb_asd.runner import main as run

    command = "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))
    overrides = {"num_train_iter": opts.iters, "asd_warmup_iter": opts.iters - opts.label_iters,
                 "num_eval_iter": opts.iters, "save_dir": opts.save_dir, **_parse_overrides(opts.overrides)}
    if not opts.no_gate:
        overrides["asd_switch_ari"] = 2.0  # maps never agree enough: labels on at the cap only
    per_seed: List[Dict[str, Any]] = []
    for seed in opts.seeds:
        name = f"{opts.name}_{os.path.splitext(os.path.basename(opts.config))[0]}_seed{seed}"
        args = parse_config(["--c", opts.config], extra_arguments=_extra_arguments,
                            overrides={**overrides, "seed": seed, "save_name": name})
        started = time.time()
        run(args)
        scores = stage_scores(os.path.join(opts.save_dir, name))
        per_seed.append({"seed": seed, **scores, "wall_s": time.time() - started})
        print(f"[instance stage] {opts.name} seed {seed}: " + ", ".join(
            f"{m} {scores[m]:.3f}" for m in METRICS if scores[m] is not None), flush=True)
    summary = {}
    for metric in METRICS:
        values = [r[metric] for r in per_seed if r[metric] is not None]
        if values:
            summary[metric] = {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
                               "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}
    previous: Dict[str, Any] = {}
    if os.path.exists(opts.out):
        with open(opts.out, encoding="utf-8") as handle:
            previous = json.load(handle)
    entries = previous.get("entries", {})
    entries[opts.name] = {"command": command, "config": opts.config, "iters": opts.iters,
                          "label_iters": opts.label_iters, "overrides": overrides, "seeds": opts.seeds,
                          "commit": git_commit(), "machine": machine_info(), "runs": per_seed, "summary": summary}
    write_json_atomic(opts.out, {"entries": entries})
    print(f"[instance stage] wrote {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
