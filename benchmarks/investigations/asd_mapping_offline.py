"""Re-cluster the transition windows saved in finished ASD runs, offline, with each k-Medoids distance.

    python benchmarks/investigations/asd_mapping_offline.py --runs saved_models/benchmarks/asd_*freematch_digits* \
        --out benchmarks/results/digits_asd_mapping_offline.json

Each run folder's ``latest_model.pth`` holds the label builder's state at the
end of training: the slots and the transition window. For each run this scores
(ACC against the digits' ground truth, as ``eval/asd_label_acc`` does) the
slot labels of

* ``run``: the run's own instance->cluster map (warm-started k-Medoids over training);
* ``linear`` / ``spectral``: a fresh :class:`InstanceClusterMapper` fit on the
  same similarity with that ``asd_kmedoids_distance``.

Ground truth is read here to measure only. Digits only (the pool's targets
are rebuilt with :func:`usb_asd.data.digits.load_digits` at its default split).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

# benchmarks/investigations/ -> the repository root (usb_asd), and this folder (offline_results)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # when loaded from elsewhere

import numpy as np  # noqa: E402
import torch  # noqa: E402

import usb_asd  # noqa: E402,F401  (makes PyPI's CUDA torchvision importable)
from usb_asd.asd.mapping import DISTANCES, InstanceClusterMapper  # noqa: E402
from usb_asd.asd.pipeline import ASDSettings, ClusterLabelBuilder  # noqa: E402
from usb_asd.core.checkpoint_codec import decode  # noqa: E402
from usb_asd.data.digits import load_digits  # noqa: E402
from usb_asd.metrics import cluster_accuracy  # noqa: E402
from offline_results import paired_difference, score_run_folders, write_offline_record  # noqa: E402  (this folder)


def score_run(checkpoint: str, targets: np.ndarray):
    """Slot-label ACC of the run's own map and of fresh fits per distance, or None if not a CTT run."""
    state = decode(torch.load(checkpoint, map_location="cpu", weights_only=False)["asd"])
    settings = ASDSettings.from_saved(state["settings"])
    if settings.mapping != "ctt":
        return None
    builder = ClusterLabelBuilder(settings, state["num_samples"])
    builder.load_state_dict(state)
    if len(targets) != builder.num_samples:
        raise ValueError(f"{checkpoint}: pool of {builder.num_samples} samples, digits' train split has {len(targets)}")
    similarity, truth = builder.tracker.similarity(), targets[builder.slots]
    row = {"run": cluster_accuracy(truth, builder.slot_clusters), "run_distance": settings.kmedoids_distance}
    for distance in DISTANCES:
        mapper = InstanceClusterMapper(settings.num_clusters, settings.seed, distance=distance)
        row[distance] = cluster_accuracy(truth, mapper.fit(similarity))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", required=True, help="run folders holding latest_model.pth")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    targets = load_digits().train_targets
    rows = score_run_folders(args.runs, lambda path: score_run(path, targets), ("run", *DISTANCES))
    if not rows:
        raise ValueError("--runs: no run with asd_mapping: ctt")
    summary = {}
    for key in ("run", *DISTANCES):
        values = [r[key] for r in rows.values()]
        summary[key] = {"mean": statistics.fmean(values), "median": statistics.median(values), "n": len(values)}
    for distance in DISTANCES:
        summary[f"{distance}_vs_run"] = paired_difference(rows, distance, "run")
    write_offline_record(args.out, rows, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
