"""How much class information the transition map has to work with, offline on finished ASD runs.

    python benchmarks/investigations/asd_transition_signal_offline.py \
        --runs saved_models/benchmarks/asd_freematch_digits_seed? saved_models/benchmarks/asd_fixmatch_digits_seed? \
        --out benchmarks/results/digits_asd_transition_signal.json

The transition map (``asd_mapping: ctt``) groups the ``n_l`` instance classes
into ``k`` clusters from the instance head's class transitions. This scores,
on each run folder's ``latest_model.pth`` (net and label builder at the end of
training), against the digits' ground truth (read to measure only), where that
signal loses class information:

* ``cell_purity``: the fraction of pool images whose instance-head argmax is a
  slot holding an image of the same class (``mean_i [y(slot(argmax_j p(j|x_i))) = y_i]``).
  A transition ``a -> b`` can only be within-class if both cells are right.
* ``within_class`` and ``within_class_chance``: the share of the window's
  transition mass ``S_ab`` (``a != b``) between slots of the same class, and
  that share for transitions between uniformly random slot pairs
  (``sum_c n_c (n_c - 1) / (n_l (n_l - 1))``).

and the slot-label ACC (as ``eval/asd_label_acc``) of

* ``run``: the run's own instance -> cluster map;
* ``window``: a fresh k-Medoids fit (the run's ``asd_kmedoids_distance``) on
  the window's counted transitions;
* ``expected``: the same fit on the *expected* transitions
  ``E_ab = sum_i p(a|x_i) p(b|x_i)`` (``a != b``) over the whole pool: the
  count CTT would average to if each visit's argmax were a draw from the
  instance head's posterior, with no counting noise;
* ``slot_features``: the same fit on the slots' own features (cosine
  similarity, negatives clipped to 0): the ``n_l`` instances grouped with no
  pool at all;
* ``pool_features``: each slot labelled by its image's cluster in a k-means of
  the whole pool's features (``asd_mapping: features``, a first fit).

Digits only, ``net: cnn_small`` runs with the plain two-head net.
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

from usb_asd.asd.feature_clusters import feature_kmeans  # noqa: E402
from usb_asd.asd.mapping import InstanceClusterMapper  # noqa: E402
from usb_asd.asd.pipeline import ASDSettings, ClusterLabelBuilder  # noqa: E402
from usb_asd.core.checkpoint_codec import decode  # noqa: E402
from usb_asd.metrics import cluster_accuracy  # noqa: E402
from offline_results import (  # noqa: E402  (this folder)
    add_pool_arguments, paired_difference, pool_outputs, score_run_folders, train_pool, write_offline_record,
)

LABEL_KEYS = ("run", "window", "expected", "slot_features", "pool_features")
SIGNAL_KEYS = ("cell_purity", "within_class", "within_class_chance")


def expected_transitions(log_probs: np.ndarray) -> np.ndarray:
    """``E_ab = sum_i p(a|x_i) p(b|x_i)`` for ``a != b``, zero diagonal (symmetric by construction)."""
    probs = np.exp(log_probs)
    expected = probs.T @ probs
    np.fill_diagonal(expected, 0.0)
    return expected


def within_class_share(similarity: np.ndarray, slot_classes: np.ndarray) -> float:
    """Share of the off-diagonal mass of ``similarity`` between slots whose images have the same class."""
    same = slot_classes[:, None] == slot_classes[None, :]
    np.fill_diagonal(same, False)
    off = similarity.copy()
    np.fill_diagonal(off, 0.0)
    return float(off[same].sum() / off.sum())


def score_run(path: str, images: torch.Tensor, targets: np.ndarray):
    """One run's signal diagnostics and slot-label ACCs, or None if not a CTT run with a map."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = decode(checkpoint["asd"])
    settings = ASDSettings.from_saved(state["settings"])
    if settings.mapping != "ctt" or state["mapper"]["mapping"] is None:
        return None
    if len(targets) != state["num_samples"]:
        raise ValueError(f"{path}: pool of {state['num_samples']} samples, the dataset's train split has {len(targets)}")
    builder = ClusterLabelBuilder(settings, state["num_samples"])
    builder.load_state_dict(state)
    features, log_probs = pool_outputs(checkpoint, settings.num_instances, images)
    slot_classes = targets[builder.slots]
    window = np.asarray(builder.tracker.similarity(), dtype=np.float64)
    unit = features[builder.slots] / np.linalg.norm(features[builder.slots], axis=1, keepdims=True)
    cosine = np.clip(unit @ unit.T, 0.0, None)
    np.fill_diagonal(cosine, 0.0)

    def fresh_fit(similarity: np.ndarray) -> float:
        mapper = InstanceClusterMapper(settings.num_clusters, settings.seed, distance=settings.kmedoids_distance)
        return cluster_accuracy(slot_classes, mapper.fit(similarity))

    counts = np.bincount(slot_classes)
    n = len(slot_classes)
    return {
        "cell_purity": float(np.mean(slot_classes[log_probs.argmax(axis=1)] == targets)),
        "within_class": within_class_share(window, slot_classes),
        "within_class_chance": float((counts * (counts - 1)).sum() / (n * (n - 1))),
        "run": cluster_accuracy(slot_classes, builder.slot_clusters),
        "window": fresh_fit(window),
        "expected": fresh_fit(expected_transitions(log_probs)),
        "slot_features": fresh_fit(cosine),
        "pool_features": cluster_accuracy(
            slot_classes, feature_kmeans(features, settings.num_clusters, settings.seed)[builder.slots]
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", required=True, help="run folders holding latest_model.pth")
    parser.add_argument("--out", required=True)
    add_pool_arguments(parser)
    args = parser.parse_args()
    images, targets = train_pool(args.dataset, args.img_size)
    rows = score_run_folders(args.runs, lambda path: score_run(path, images, targets), SIGNAL_KEYS + LABEL_KEYS)
    if not rows:
        raise ValueError("--runs: no finished run with asd_mapping: ctt")
    summary = {}
    for key in SIGNAL_KEYS + LABEL_KEYS:
        values = [r[key] for r in rows.values()]
        summary[key] = {"mean": statistics.fmean(values), "median": statistics.median(values), "n": len(values)}
    for key in LABEL_KEYS[2:]:
        summary[f"{key}_vs_window"] = paired_difference(rows, key, "window")
    write_offline_record(args.out, rows, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
