"""Choosing the labelled subset of a training split, reproducibly and in memory.

USB's ``split_ssl_data`` writes index files under ``<site-packages>/data``; this
plugin never writes there, so it draws the subset itself (see ``patches/``).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np


def select_labelled_indices(
    targets: np.ndarray, num_labels: int, num_classes: int, seed: int
) -> np.ndarray:
    """Draw ``num_labels / num_classes`` labelled samples of every class.

    Args:
        targets: Ground-truth classes of the training split ``(n,)``.
        num_labels: Total labelled samples wanted (USB's ``num_labels``); a
            multiple of ``num_classes``.
        num_classes: Number of classes (USB's ``num_classes``).
        seed: Seed of the draw (the run's ``seed``), so runs are reproducible.

    Returns:
        Sorted indices into ``targets``, ``num_labels`` of them.

    Raises:
        ValueError: naming ``num_labels`` when it is not a positive multiple of
            ``num_classes`` or a class has fewer samples than asked for.
    """
    targets = np.asarray(targets, dtype=np.int64)
    if num_labels <= 0 or num_labels % num_classes != 0:
        raise ValueError(
            f"num_labels must be a positive multiple of num_classes ({num_classes}) so every "
            f"class gets the same number of labels; got num_labels={num_labels}"
        )
    if np.any(targets < 0):
        raise ValueError(
            "num_labels > 0 needs ground-truth labels for the training split, but this dataset "
            "has unlabelled training images; use num_labels: 0 with an unsupervised method"
        )
    per_class = num_labels // num_classes
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(num_classes):
        members = np.flatnonzero(targets == c)
        if len(members) < per_class:
            raise ValueError(
                f"num_labels={num_labels} asks for {per_class} labels of class {c}, "
                f"which has only {len(members)} training samples"
            )
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def split_labelled_unlabelled(
    n: int, labelled: np.ndarray, include_lb_to_ulb: bool
) -> Tuple[np.ndarray, np.ndarray]:
    """Indices of the labelled and unlabelled pools, as USB's ``include_lb_to_ulb`` defines.

    Args:
        n: Size of the training split.
        labelled: Indices of the labelled samples.
        include_lb_to_ulb: Whether labelled samples also appear in the unlabelled pool.

    Returns:
        ``(labelled, unlabelled)`` index arrays.
    """
    if include_lb_to_ulb:
        return labelled, np.arange(n)
    mask = np.ones(n, dtype=bool)
    mask[labelled] = False
    return labelled, np.flatnonzero(mask)
