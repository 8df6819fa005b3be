"""Classical clustering baselines on raw pixels: k-means, agglomerative, spectral.

Each clusters the images of one split directly (flattened pixels scaled to
``[0, 1]``), so it is scored on the same images as the deep runs' test split.

As a command, it writes a classical clustering of a run's training pool as an
``assignments.csv``, a starting point for ASD (``asd_init_assignments``) and
for the self-labelling baseline (``adaptor: selflabel``)::

    python -m usb_asd.baselines --c CONFIG --method kmeans|spectral|agglomerative --out start.csv [--seed N]

Rows of split ``train`` hold the pool (the images a run of ``CONFIG`` trains
on, named as it names them); rows of split ``test`` assign each test image to
the nearest cluster mean of the pool, with its class where known, so the start
can be scored as the runs are. ``confidence`` is the Student-t soft assignment
of DEC (Xie, Girshick & Farhadi, ICML 2016) to the cluster means,
``q_ic = (1 + ||x_i - mu_c||^2)^-1 / sum_c' (1 + ||x_i - mu_c'||^2)^-1``, at the
image's own cluster: high for an image near its cluster's mean and far from the
others. Array data sets are clustered at their stored size (as the comparison
grid does); image files are decoded and resized to ``img_size`` (so images of
different sizes compare).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering

from .errors import UserError
from .metrics import clustering_scores


def _kmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)


def _agglomerative(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    # Ward linkage is deterministic; the seed is unused.
    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x)


def _spectral(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    return SpectralClustering(
        n_clusters=k, affinity="nearest_neighbors", n_neighbors=10, assign_labels="kmeans", random_state=seed
    ).fit_predict(x)


#: Name -> ``f(features, k, seed) -> cluster ids``.
CLASSICAL_METHODS: Dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "kmeans": _kmeans,
    "agglomerative": _agglomerative,
    "spectral": _spectral,
}


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Flatten ``uint8`` images ``(n, H, W, C)`` to ``(n, H*W*C)`` floats in ``[0, 1]``."""
    images = np.asarray(images)
    return images.reshape(len(images), -1).astype(np.float64) / 255.0


def classical_scores(method: str, images: np.ndarray, targets: np.ndarray, k: int, seed: int) -> Dict[str, float]:
    """Cluster raw pixels with a classical method and score it.

    Args:
        method: A key of :data:`CLASSICAL_METHODS`.
        images: ``uint8`` images ``(n, H, W, C)``.
        targets: Ground-truth classes ``(n,)``, used only to score.
        k: Number of clusters.
        seed: Seed of the method's randomness.

    Returns:
        ``{"acc", "nmi", "ari"}``.
    """
    if method not in CLASSICAL_METHODS:
        raise ValueError(f"method must be one of {sorted(CLASSICAL_METHODS)}, got {method!r}")
    if k > len(images):
        raise ValueError(f"k ({k}) must not exceed the number of images ({len(images)})")
    pred = CLASSICAL_METHODS[method](pixel_features(images), k, seed)
    return clustering_scores(targets, pred)


# ---- a classical clustering of a run's pool as assignments.csv (python -m usb_asd.baselines) ----------

def split_pixels(store, img_size: Optional[int] = None) -> np.ndarray:
    """The ``uint8 (n, H, W, C)`` pixels of an image store.

    Args:
        store: A pixel array, or a list of image file paths (decoded as training decodes them).
        img_size: For file paths, the side each image is resized to (bilinear); None keeps the
            decoded size (then every file must have the same size).
    """
    if isinstance(store, np.ndarray):
        return store
    from PIL import Image

    from .data.image_io import load_image

    images = []
    for path in store:
        pixels = load_image(path)
        if img_size is not None and pixels.shape[:2] != (img_size, img_size):
            pixels = np.asarray(Image.fromarray(pixels).resize((img_size, img_size), Image.BILINEAR))
        images.append(pixels)
    return np.stack(images)


def soft_assignment(features: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """DEC's Student-t soft assignment of each row to each centroid (one degree of freedom).

    .. math:: q_{ic} = \\frac{(1 + \\lVert x_i - \\mu_c \\rVert^2)^{-1}}{\\sum_{c'} (1 + \\lVert x_i - \\mu_{c'} \\rVert^2)^{-1}}

    Args:
        features: ``(n, d)``.
        centroids: ``(k, d)``.

    Returns:
        ``(n, k)`` float64, rows summing to 1.
    """
    features, centroids = np.asarray(features, np.float64), np.asarray(centroids, np.float64)
    sq = (features ** 2).sum(axis=1)[:, None] + (centroids ** 2).sum(axis=1)[None, :] - 2.0 * features @ centroids.T
    sq = np.maximum(sq, 0.0)  # rounding can make a tiny distance negative
    kernel = 1.0 / (1.0 + sq)
    return kernel / kernel.sum(axis=1, keepdims=True)


def cluster_means(features: np.ndarray, clusters: np.ndarray, k: int) -> np.ndarray:
    """``(k, d)`` mean of each cluster's rows (every cluster must be non-empty)."""
    sums = np.zeros((k, features.shape[1]))
    np.add.at(sums, clusters, features)
    return sums / np.bincount(clusters, minlength=k)[:, None]


def classical_start(method: str, pool: np.ndarray, k: int, seed: int,
                    test: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray, Optional[Tuple]]:
    """A classical clustering of the pool's pixels, with confidences, and the test images assigned to it.

    Args:
        method: A key of :data:`CLASSICAL_METHODS`.
        pool: ``uint8 (N, H, W, C)`` pool images.
        k: Number of clusters.
        seed: Seed of the method's randomness.
        test: ``uint8 (M, H, W, C)`` test images, or None.

    Returns:
        ``(clusters (N,), confidence (N,), test_part)``: ``test_part`` is ``(clusters (M,),
        confidence (M,))`` (each test image in the cluster of the nearest pool cluster mean), or None.
    """
    x = pixel_features(pool)
    clusters = np.asarray(CLASSICAL_METHODS[method](x, k, seed), dtype=np.int64)
    centroids = cluster_means(x, clusters, k)
    confidence = soft_assignment(x, centroids)[np.arange(len(x)), clusters]
    test_part = None
    if test is not None:
        q = soft_assignment(pixel_features(test), centroids)
        test_part = (q.argmax(axis=1).astype(np.int64), q.max(axis=1))
    return clusters, confidence, test_part


class _OneLineParser(argparse.ArgumentParser):
    """Bad usage is a user error: one line and exit status 2, as every other mistake."""

    def error(self, message):
        raise UserError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    """The command's flags."""
    p = _OneLineParser(prog="python -m usb_asd.baselines",
                       description="Write a classical clustering of a run's training pool (raw pixels) as an "
                       "assignments.csv: a start for asd_init_assignments or selflabel_assignments.")
    p.add_argument("--c", required=True, help="the run's config (dataset, data_dir, num_classes, img_size)")
    p.add_argument("--method", required=True, help=f"one of {', '.join(sorted(CLASSICAL_METHODS))}")
    p.add_argument("--out", required=True, help="the CSV to write (e.g. start.csv)")
    p.add_argument("--seed", type=int, default=None, help="seed of the method (default: the config's seed)")
    p.add_argument("--data_dir", default=None, help="data_dir (default: the config's)")
    return p


def _check_out(out: str) -> None:
    if not out.lower().endswith(".csv"):
        raise UserError(f"--out {out}: expected a file name ending in .csv (asd_init_assignments reads .csv or .npy)")
    if os.path.isdir(out):
        raise UserError(f"--out {out} is a folder; expected the path of the CSV to write")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise UserError(f"--out {out}: folder {parent} does not exist; create it first")


def write_start(config: str, method: str, out: str, seed: Optional[int] = None,
                data_dir: Optional[str] = None) -> Dict[str, object]:
    """Cluster the pool of ``config``'s run with ``method`` and write it to ``out`` (see the module docstring).

    Returns:
        ``{"images", "clusters", "test_scores"}`` (scores of the test rows, None where test classes are unknown).

    Raises:
        UserError: an unknown method, a config or data problem, or an ``--out`` that cannot be written;
            nothing is written then.
    """
    from .cli import _extra_arguments
    from .config import ConfigError, parse_config
    from .data.pool_check import forget_prepared, prepare_splits
    from .data.registry import DATASETS
    from .outputs.assignments import SplitAssignments, image_names, split_scores, write_assignments_csv
    from .preflight import pool_image_names

    if method not in CLASSICAL_METHODS:
        raise UserError(f"--method {method!r}: expected one of {', '.join(sorted(CLASSICAL_METHODS))}")
    _check_out(out)
    args = parse_config(["--c", config], extra_arguments=_extra_arguments,
                        overrides={} if data_dir is None else {"data_dir": data_dir})
    if args.dataset not in DATASETS:
        raise ConfigError(f"key 'dataset': {args.dataset!r} is read by USB itself; the baselines read the plugin's "
                          f"data sets: {', '.join(sorted(DATASETS))}")
    k = int(args.num_classes)
    try:
        splits, _ = prepare_splits(args.dataset, args.data_dir, k, bool(getattr(args, "skip_bad_images", False)),
                                   check=bool(getattr(args, "check_images", True)))
    finally:
        forget_prepared()
    names = pool_image_names(splits)
    if not 2 <= k <= len(names):
        raise ConfigError(f"num_classes is {k}; a clustering of the {len(names)} pool images needs 2 to "
                          f"{len(names)} clusters")
    size = int(args.img_size)
    pool = split_pixels(splits.train_images, size)
    if splits.extra_train_images is not None:
        pool = np.concatenate([pool, split_pixels(splits.extra_train_images, size)])
    same = splits.test_images is splits.train_images  # a folder without a split: its test rows are the pool's
    test = None if same or not len(splits.test_images) else split_pixels(splits.test_images, size)
    clusters, confidence, test_part = classical_start(method, pool, k, int(args.seed if seed is None else seed), test)
    pool_targets = np.concatenate([splits.train_targets, np.full(len(names) - len(splits.train_targets), -1)])
    parts = [SplitAssignments("train", names, clusters, confidence, pool_targets)]
    if same:
        n = len(splits.train_targets)
        parts.append(SplitAssignments("test", names[:n], clusters[:n], confidence[:n], splits.test_targets))
    elif test_part is not None:
        parts.append(SplitAssignments("test", image_names(splits.test_images, len(splits.test_images)),
                                      test_part[0], test_part[1], splits.test_targets))
    write_assignments_csv(out, parts)
    return {"images": len(names), "clusters": k,
            "test_scores": split_scores(parts[1]) if len(parts) > 1 and len(parts[1].images) else None}


def run_from_command_line(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m usb_asd.baselines``; returns the exit status (2 on a user error, nothing written)."""
    from .command_errors import report, split_debug_flag

    argv, debug = split_debug_flag(list(sys.argv[1:] if argv is None else argv))
    try:
        opts = build_parser().parse_args(argv)
        done = write_start(opts.c, opts.method, opts.out, opts.seed, opts.data_dir)
    except UserError as error:
        return report(error, debug)
    scores = done["test_scores"]
    scored = "" if scores is None else f"; test split ACC {scores['acc']:.4f} NMI {scores['nmi']:.4f} ARI {scores['ari']:.4f}"
    print(f"{opts.method} of the raw pixels: {done['images']} pool images in {done['clusters']} clusters -> "
          f"{opts.out}{scored}")
    return 0


if __name__ == "__main__":
    import usb_asd  # noqa: F401

    sys.exit(run_from_command_line())
