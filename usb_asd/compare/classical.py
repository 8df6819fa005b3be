"""Classical baselines (k-means, agglomerative, spectral on pixels) on the grid's test split.

Scored on the same test split as the deep cells (``usb_asd.baselines``, as
``benchmarks/classical_baselines.py`` runs them), one run per method and grid
seed. They take seconds, but are cached in ``<out>/classical.json`` so a
resumed grid or ``--report-only`` does not redo them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict, List, Sequence

import numpy as np

from ..baselines import classical_scores
from ..core.atomic_io import write_json_atomic

CLASSICAL_FILE = "classical.json"


def load_test_split(dataset: str, data_dir: str, num_classes: Any = None):
    """The test images (``uint8 (n, H, W, C)``), targets and class count of a dataset.

    Args:
        dataset: ``dataset`` key.
        data_dir: ``data_dir`` key.
        num_classes: ``num_classes`` key (folder datasets need it).

    Returns:
        ``(images, targets, num_classes)``.
    """
    from ..baselines import split_pixels
    from ..data.registry import load_splits

    splits = load_splits(dataset, data_dir, num_classes)
    # Folder datasets list file paths: decoded here once, at their own size.
    images = split_pixels(splits.test_images)
    return np.asarray(images), np.asarray(splits.test_targets), splits.num_classes


def run_classical(dataset: str, data_dir: str, methods: Sequence[str], seeds: Sequence[int],
                  num_classes: Any = None) -> List[Dict[str, Any]]:
    """Score every classical method once per seed.

    Args:
        dataset: ``dataset`` key.
        data_dir: ``data_dir`` key.
        methods: Keys of :data:`usb_asd.baselines.CLASSICAL_METHODS`.
        seeds: Seeds of the methods' randomness.
        num_classes: ``num_classes`` key.

    Returns:
        ``[{"method", "seed", "acc", "nmi", "ari", "wall_s"}, ...]``.
    """
    from ..data.registry import DATASETS

    if not methods:
        return []
    if dataset not in DATASETS:
        # USB's own datasets are read by USB inside a run; there are no pixels here to cluster.
        print(f"[compare] classical baselines skipped: dataset '{dataset}' is not one of the plugin's "
              f"datasets {sorted(DATASETS)}", file=sys.stderr)
        return []
    images, targets, k = load_test_split(dataset, data_dir, num_classes)
    if np.any(targets < 0):
        raise ValueError(f"dataset '{dataset}' has test images without labels; classical baselines cannot be scored")
    runs = []
    for method in methods:
        for seed in seeds:
            start = time.perf_counter()
            scores = classical_scores(method, images, targets, k, seed)
            runs.append({"method": method, "seed": int(seed), "wall_s": time.perf_counter() - start, **scores})
    return runs


def cached_classical(out: str, dataset: str, data_dir: str, methods: Sequence[str], seeds: Sequence[int],
                     num_classes: Any = None) -> List[Dict[str, Any]]:
    """:func:`run_classical`, read from ``<out>/classical.json`` when it was run with the same dataset, methods, seeds.

    Returns:
        The runs.
    """
    path = os.path.join(out, CLASSICAL_FILE)
    key = {"dataset": dataset, "methods": list(methods), "seeds": [int(s) for s in seeds]}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            cached = json.load(handle)
        if cached.get("key") == key:
            return list(cached["runs"])
    runs = run_classical(dataset, data_dir, methods, seeds, num_classes)
    write_json_atomic(path, {"key": key, "scored_split": "test", "runs": runs})
    return runs
