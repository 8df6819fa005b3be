"""Score, offline on finished ASD runs, each way this plugin can label the sampled instances.

    python benchmarks/investigations/asd_labels_offline.py --runs saved_models/benchmarks/asd_freematch_digits_seed* \
        --redraws 5 --out benchmarks/results/digits_asd_labels_offline.json

From each run folder's ``latest_model.pth`` (the net and the label builder's
state at the end of training) this scores cluster labels against the digits'
ground truth (ACC with Hungarian matching, as ``eval/asd_label_acc``):

* ``current``: the run's own labels of the instances in its slots;
* ``features``: the same instances labelled by their images' clusters in a
  k-means of the whole pool's features (``asd_mapping: features``, a first fit);
* ``features_spectral``: the same with spectral clustering of the features'
  nearest-neighbour graph (``asd_feature_clustering: spectral``);
* and, replaying a redraw (the run's own sampler draws the next sample set,
  ``--redraws`` times, the r-th after skipping r draws; OT places it on the
  instance head's log-probabilities as training would), the new instances
  labelled by the slot they were placed in (``slot``, ``asd_redraw_labels:
  slot``) or by ``argmax_c q(c | x)``, the cluster holding most of their
  instance-head probability (``posterior``).

Ground truth is read here to measure only. Digits only, ``net: cnn_small``
runs with the plain two-head net (not SuperCM's).
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

from usb_asd.asd.feature_clusters import feature_kmeans, feature_spectral  # noqa: E402
from usb_asd.asd.mapping import cluster_posterior  # noqa: E402
from usb_asd.asd.pipeline import ASDSettings, ClusterLabelBuilder  # noqa: E402
from usb_asd.core.checkpoint_codec import decode  # noqa: E402
from usb_asd.metrics import cluster_accuracy  # noqa: E402
from offline_results import (  # noqa: E402  (this folder)
    add_pool_arguments, paired_difference, pool_outputs, score_run_folders, train_pool, write_offline_record,
)

KEYS = ("current", "features", "features_spectral", "slot", "posterior")


def score_run(path: str, images: torch.Tensor, targets: np.ndarray, redraws: int):
    """Mean over ``redraws`` replayed redraws of each key's label ACC, or None if not a CTT + OT run."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = decode(checkpoint["asd"])
    settings = ASDSettings.from_saved(state["settings"])
    if settings.mapping != "ctt" or settings.alignment != "ot" or state["mapper"]["mapping"] is None:
        return None
    if len(targets) != state["num_samples"]:
        raise ValueError(f"{path}: pool of {state['num_samples']} samples, the dataset's train split has {len(targets)}")
    features, log_probs = pool_outputs(checkpoint, settings.num_instances, images)
    pool_clusters = feature_kmeans(features, settings.num_clusters, settings.seed)
    saved = ClusterLabelBuilder(settings, state["num_samples"])
    saved.load_state_dict(state)
    clusters = saved.slot_clusters
    # The slots at the end of training: the same for every replayed redraw.
    current = {
        "current": cluster_accuracy(targets[saved.slots], clusters),
        "features": cluster_accuracy(targets[saved.slots], pool_clusters[saved.slots]),
        "features_spectral": cluster_accuracy(
            targets[saved.slots], feature_spectral(features, settings.num_clusters, settings.seed)[saved.slots]
        ),
    }
    scores = {"slot": [], "posterior": []}
    for skip in range(redraws):
        builder = ClusterLabelBuilder(settings, state["num_samples"])
        builder.load_state_dict(state)
        for _ in range(skip):
            builder.draw()
        new = builder.draw()
        slots = builder.place(new, log_probs[new])
        scores["slot"].append(cluster_accuracy(targets[slots], clusters))
        posterior = cluster_posterior(log_probs[new], clusters, settings.num_clusters).argmax(axis=1)
        scores["posterior"].append(cluster_accuracy(targets[new], posterior))
    return {**current, **{key: statistics.fmean(values) for key, values in scores.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", required=True, help="run folders holding latest_model.pth")
    parser.add_argument("--redraws", type=int, default=5, help="replayed redraws per run (>= 1)")
    parser.add_argument("--out", required=True)
    add_pool_arguments(parser)
    args = parser.parse_args()
    if args.redraws < 1:
        raise ValueError(f"--redraws must be >= 1, got {args.redraws}")
    images, targets = train_pool(args.dataset, args.img_size)
    rows = score_run_folders(args.runs, lambda path: score_run(path, images, targets, args.redraws), KEYS)
    if not rows:
        raise ValueError("--runs: no finished run with asd_mapping: ctt and asd_alignment: ot")
    summary = {key: {"mean": statistics.fmean(r[key] for r in rows.values()), "n": len(rows)} for key in KEYS}
    for new, old in (("posterior", "slot"), ("features", "current"), ("features_spectral", "features")):
        summary[f"{new}_vs_{old}"] = paired_difference(rows, new, old)
    write_offline_record(args.out, rows, summary, redraws=args.redraws)
    return 0


if __name__ == "__main__":
    sys.exit(main())
