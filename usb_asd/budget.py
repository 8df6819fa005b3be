"""``num_train_iter: auto``: a training budget and ASD schedule that follow the pool's size.

A user who points the folder config at their images sets ``data_dir`` and
``num_classes`` only; the number of steps and ASD's periods then come from the
number of images ``N`` and the unlabelled images per step ``B u``
(``batch_size * uratio``):

.. math::
    T = \\operatorname{clip}\\big(50 \\lceil E N / (50 B u) \\rceil,\\ T_{\\min},\\ T_{\\max}\\big),

every image seen about ``E`` times (:data:`EPOCHS`), at least ``T_min`` steps
(the instance stage needs about that many to make the features semantic, on
small folders too) and at most ``T_max`` (a CPU-size default; give
``num_train_iter`` yourself for longer runs). ASD's periods are fixed fractions
of ``T`` (:data:`SCHEDULE_FRACTIONS`), and so are the evaluation and log periods.
Each key given as an integer is kept; only the keys set to ``auto`` are filled in.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Dict

__all__ = ["AUTO", "EPOCHS", "auto_budget", "resolve_auto_budget", "int_or_auto"]

AUTO = "auto"
#: Times each image is seen (MNIST-5k's 2,000 steps of 224 images over 4,000 images: 112).
EPOCHS = 112
MIN_ITERATIONS = 1000
MAX_ITERATIONS = 20000
#: Key -> share of ``num_train_iter``: the label gate's cap (half the run), a
#: re-clustering every 1/40, a redraw every 1/20, an evaluation every 1/4, a log line every 1/20.
SCHEDULE_FRACTIONS: Dict[str, float] = {
    "asd_warmup_iter": 1 / 2,
    "asd_cluster_iter": 1 / 40,
    "asd_round_iter": 1 / 20,
    "num_eval_iter": 1 / 4,
    "num_log_iter": 1 / 20,
}


def int_or_auto(value: Any) -> Any:
    """A config type: an integer, or the word ``auto``."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    if isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"an integer or 'auto' expected, got {value!r}")
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise argparse.ArgumentTypeError(f"an integer or 'auto' expected, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(f"an integer or 'auto' expected, got {value!r}") from error


def auto_budget(num_images: int, images_per_step: int) -> Dict[str, int]:
    """``num_train_iter`` and the scheduled periods for ``num_images`` images.

    Args:
        num_images: ``N``, the unlabelled pool.
        images_per_step: ``B u``.

    Returns:
        ``{"num_train_iter": T, "asd_warmup_iter": ..., ...}`` (every key of :data:`SCHEDULE_FRACTIONS`).
    """
    if num_images < 1 or images_per_step < 1:
        raise ValueError(f"num_images and images_per_step must be >= 1, got {num_images} and {images_per_step}")
    steps = 50 * math.ceil(EPOCHS * num_images / (50 * images_per_step))
    steps = min(max(steps, MIN_ITERATIONS), MAX_ITERATIONS)
    budget = {"num_train_iter": steps}
    for key, share in SCHEDULE_FRACTIONS.items():
        budget[key] = max(1, int(round(steps * share)))
    return budget


def resolve_auto_budget(args: argparse.Namespace, num_images: int) -> Dict[str, int]:
    """Replace every ``auto`` among ``num_train_iter`` and the scheduled keys by its value.

    With ``num_train_iter`` given as an integer, the scheduled keys set to
    ``auto`` take their share of it.

    Args:
        args: The run's settings (changed in place).
        num_images: ``N``, the unlabelled pool.

    Returns:
        The keys that were filled in, with their values.
    """
    images_per_step = int(args.batch_size) * int(getattr(args, "uratio", 1) or 1)
    if args.num_train_iter == AUTO:
        budget = auto_budget(num_images, images_per_step)
    else:
        steps = int(args.num_train_iter)
        budget = {"num_train_iter": steps,
                  **{key: max(1, int(round(steps * share))) for key, share in SCHEDULE_FRACTIONS.items()}}
    filled = {}
    for key, value in budget.items():
        if getattr(args, key, None) == AUTO:
            setattr(args, key, value)
            filled[key] = value
    return filled


def needs_pool_size(args: argparse.Namespace) -> bool:
    """Whether the run's settings hold an ``auto`` that the pool's size decides."""
    return any(getattr(args, key, None) == AUTO for key in ("num_train_iter", *SCHEDULE_FRACTIONS))


def resolve_run_budget(args: argparse.Namespace) -> Dict[str, int]:
    """:func:`resolve_auto_budget` with the pool read from the run's data set (listing only), if needed."""
    if not needs_pool_size(args):
        return {}
    num_images = 0
    if args.num_train_iter == AUTO:
        from .data.registry import load_splits

        splits = load_splits(args.dataset, args.data_dir, args.num_classes)
        num_images = len(splits.train_targets) + len(splits.extra_train_images or ())
    return resolve_auto_budget(args, num_images)
