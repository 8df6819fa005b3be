"""DANN's two schedules over training progress ``p = it / num_train_iter`` in ``[0, 1]``.

Ganin & Lempitsky (ICML 2015), Sec. 4 / Ganin et al. (JMLR 2016), Sec. 5.2.2:

* the gradient-reversal coefficient rises from 0 to 1 as
  ``lambda_p = 2 / (1 + exp(-gamma p)) - 1`` with ``gamma = 10``, so that the
  discriminator's noisy early signal does not disturb the features;
* the learning rate is annealed as ``mu_p = mu_0 (1 + alpha p)^-beta`` with
  ``alpha = 10``, ``beta = 0.75``.
"""

from __future__ import annotations

import math

__all__ = ["AnnealedLR", "grl_coefficient", "lr_anneal_factor", "progress"]


def _check_p(p: float) -> float:
    p = float(p)
    if not math.isfinite(p) or p < 0:
        raise ValueError(f"training progress p must be a finite number >= 0, got {p!r}")
    return min(p, 1.0)


def progress(it: int, num_train_iter: int) -> float:
    """Training progress ``min(it / num_train_iter, 1)``.

    Args:
        it: Completed iterations (USB's ``algorithm.it``), ``>= 0``.
        num_train_iter: Total iterations, ``>= 1``.

    Returns:
        ``p`` in ``[0, 1]``.
    """
    if num_train_iter < 1:
        raise ValueError(f"num_train_iter must be >= 1, got {num_train_iter}")
    if it < 0:
        raise ValueError(f"it must be >= 0, got {it}")
    return min(it / num_train_iter, 1.0)


def grl_coefficient(p: float, gamma: float = 10.0) -> float:
    """DANN's reversal coefficient ``2 / (1 + exp(-gamma p)) - 1``.

    Args:
        p: Training progress in ``[0, 1]`` (values above 1 are read as 1).
        gamma: Slope (10 in DANN), ``> 0``.

    Returns:
        0 at ``p = 0``, ``2 / (1 + e^-gamma) - 1`` (0.99991 for gamma 10) at ``p = 1``.
    """
    if not math.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma must be a finite number > 0, got {gamma!r}")
    return 2.0 / (1.0 + math.exp(-gamma * _check_p(p))) - 1.0


def lr_anneal_factor(p: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    """DANN's learning-rate factor ``(1 + alpha p)^-beta`` (multiply ``lr0`` by it).

    Args:
        p: Training progress in ``[0, 1]`` (values above 1 are read as 1).
        alpha: 10 in DANN, ``>= 0``.
        beta: 0.75 in DANN, ``>= 0``.

    Returns:
        1 at ``p = 0``, ``(1 + alpha)^-beta`` (0.1656 for 10, 0.75) at ``p = 1``.
    """
    if alpha < 0 or beta < 0:
        raise ValueError(f"alpha and beta must be >= 0, got {alpha!r}, {beta!r}")
    return (1.0 + alpha * _check_p(p)) ** (-beta)


class AnnealedLR:
    """``LambdaLR`` multiplier ``step -> lr_anneal_factor(step / num_train_iter)``.

    A class (not a lambda) so that ``LambdaLR.state_dict()`` stores its
    settings (plain floats, loadable with ``torch.load(weights_only=True)``);
    the scheduler's own ``last_epoch`` is the step, restored on resume.

    Args:
        num_train_iter: Total iterations, ``>= 1``.
        alpha: See :func:`lr_anneal_factor`.
        beta: See :func:`lr_anneal_factor`.
    """

    def __init__(self, num_train_iter: int, alpha: float = 10.0, beta: float = 0.75) -> None:
        if num_train_iter < 1:
            raise ValueError(f"num_train_iter must be >= 1, got {num_train_iter}")
        self.num_train_iter = int(num_train_iter)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def __call__(self, step: int) -> float:
        return lr_anneal_factor(step / self.num_train_iter, self.alpha, self.beta)
