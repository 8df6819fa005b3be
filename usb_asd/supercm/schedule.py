"""Warm-up schedule used alongside SuperCM.

The SuperCM reference code (Durgesh93/SuperCM, ``train.py``) ramps the weight
of the semi-supervised consistency term with the sigmoid-shaped schedule of
Laine & Aila (2017), ``exp(-5 (1 - t)^2)`` with ``t = min(it / warmup, 1)``,
while the clustering-module weight itself is kept constant (its ramp is 1).
"""

from __future__ import annotations

import math

__all__ = ["ramp_up"]


def ramp_up(it: float, warmup: float) -> float:
    """Sigmoid-shaped ramp-up ``exp(-5 (1 - min(it / warmup, 1))^2)``.

    Rises from ``exp(-5) ~= 0.0067`` at ``it = 0`` to exactly 1 at
    ``it >= warmup`` (Laine & Aila 2017; used in SuperCM, Singh et al., Pattern
    Recognition 2025, arXiv 2507.13779, for the SSL term's weight).

    Args:
        it: current iteration, ``>= 0``.
        warmup: length of the ramp in iterations, ``>= 0``; ``0`` means no ramp
            (the weight is 1 from the start).

    Returns:
        The ramp value in ``[exp(-5), 1]`` (exactly 1.0 for ``warmup == 0``).

    Raises:
        ValueError: if ``it`` or ``warmup`` is negative or not finite.
    """
    if not math.isfinite(warmup) or warmup < 0:
        raise ValueError(f"warmup must be a finite number >= 0, got {warmup!r}")
    if not math.isfinite(it) or it < 0:
        raise ValueError(f"it must be a finite number >= 0, got {it!r}")
    if warmup == 0:
        return 1.0
    t = min(it / warmup, 1.0)
    return math.exp(-5.0 * (1.0 - t) ** 2)
