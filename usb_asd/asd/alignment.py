"""Aligning newly sampled instances to the instance head's existing slots.

In ASD (Duan et al., IEEE TIP 2025, arXiv 2509.20976) the instance head has
``n_l`` outputs ("slots"), one class per sampled instance. When a new set of
instances is drawn, each is assigned to a slot by optimal transport so that
slot ``j`` keeps roughly the meaning it had (the head and the transition
statistics stay useful). The transport plan is computed with entropic OT
(Sinkhorn, Cuturi, NeurIPS 2013) via POT and rounded to a one-to-one
assignment. The cost is :func:`instance_slot_cost`,
``C[i, j] = -log p(slot j | instance i)`` from the instance head's log-softmax
on the new instances.

``asd_alignment`` picks a :class:`Placement` from :data:`PLACEMENTS`: optimal
transport (the paper's) or the draw order (the ablation).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import ot
from scipy.optimize import linear_sum_assignment

from .arrays import as_numpy

__all__ = ["PLACEMENTS", "align_to_slots", "instance_slot_cost", "relative_stop_threshold", "select_for_slots",
           "sinkhorn_plan"]

#: Tolerance on ``sum(a) == sum(b)`` for user-given marginals.
_MASS_TOL = 1e-8

#: Largest ``1 / reg`` for which the plain (Sinkhorn-Knopp) iterations are used: the
#: kernel ``exp(-C / reg)`` of a cost scaled to ``[0, 1]`` is then >= e^-100 ~ 4e-44,
#: far from float64 underflow. They give the same plan as the log-domain
#: iterations (to 1e-17 on 40 x 40 instance costs) about 6x faster (0.6 vs 3.5 ms).
_PLAIN_SINKHORN_MAX_INV_REG = 100.0


def _as_cost(cost: np.ndarray) -> np.ndarray:
    cost = np.asarray(as_numpy(cost), dtype=np.float64)
    if cost.ndim != 2 or cost.shape[0] == 0 or cost.shape[1] == 0:
        raise ValueError(f"cost must be a non-empty 2-D array (instances x slots), got shape {cost.shape}")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost must be finite")
    return cost


def _marginal(name: str, values: Optional[np.ndarray], size: int) -> np.ndarray:
    if values is None:
        return np.full(size, 1.0 / size)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    if values.sum() <= 0:
        raise ValueError(f"{name} must have positive total mass")
    return values


def sinkhorn_plan(
    cost: np.ndarray,
    reg: float,
    a: Optional[np.ndarray] = None,
    b: Optional[np.ndarray] = None,
    num_iter_max: int = 1000,
    stop_thr: float = 1e-9,
    warn: bool = True,
) -> np.ndarray:
    """Entropic optimal transport plan between instances and slots.

    Solves

    .. math::
        P^\\star = \\arg\\min_{P \\ge 0} \\langle P, \\tilde C \\rangle - \\varepsilon H(P)
        \\quad \\text{s.t.} \\quad P \\mathbf{1}_n = a, \\; P^\\top \\mathbf{1}_m = b,

    with :math:`H(P) = -\\sum_{ij} P_{ij} (\\log P_{ij} - 1)` and
    :math:`\\tilde C = C / \\max_{ij} |C_{ij}|`, using POT's Sinkhorn-Knopp
    iterations (``ot.sinkhorn(..., method="sinkhorn")``) when ``reg >= 0.01``
    and its log-domain iterations (``method="sinkhorn_log"``, stable for any
    ``reg``) below, where the kernel ``exp(-C / reg)`` could underflow.
    Dividing by the largest cost makes ``reg`` scale-free: the same ``reg``
    means the same sharpness whether costs are ``-log p`` (unbounded) or
    ``1 - cos`` (in ``[0, 2]``). An all-zero cost is left as is.

    Args:
        cost: ``(m, n)`` cost ``C``; rectangular allowed.
        reg: Entropic regularisation ``epsilon > 0`` (relative to the largest cost).
        a: Row marginal ``(m,)``; default uniform ``1/m``.
        b: Column marginal ``(n,)``; default uniform ``1/n``. Must have the
            same total mass as ``a``.
        num_iter_max: Maximum Sinkhorn iterations.
        stop_thr: Stopping threshold on the marginal violation.
        warn: Let POT warn when ``num_iter_max`` is reached before ``stop_thr``.

    Returns:
        ``(m, n)`` plan ``P`` (float64) with row sums ``a`` and column sums ``b``.
    """
    cost = _as_cost(cost)
    if not np.isfinite(reg) or reg <= 0:
        raise ValueError(f"reg must be a positive number, got {reg}")
    m, n = cost.shape
    a = _marginal("a", a, m)
    b = _marginal("b", b, n)
    if abs(a.sum() - b.sum()) > _MASS_TOL * max(1.0, a.sum()):
        raise ValueError(f"a and b must have the same total mass, got {a.sum()} and {b.sum()}")
    scale = np.abs(cost).max()
    if scale > 0:
        cost = cost / scale
    method = "sinkhorn" if 1.0 / reg <= _PLAIN_SINKHORN_MAX_INV_REG else "sinkhorn_log"
    plan = ot.sinkhorn(
        a, b, cost, float(reg), method=method, numItermax=int(num_iter_max), stopThr=float(stop_thr),
        warn=bool(warn),
    )
    return np.asarray(plan, dtype=np.float64)


def align_to_slots(
    cost: np.ndarray,
    reg: float = 0.05,
    num_iter_max: int = 1000,
    stop_thr: float = 1e-6,
) -> np.ndarray:
    """One slot per new instance: Sinkhorn plan rounded to a one-to-one assignment.

    The plan of :func:`sinkhorn_plan` (uniform marginals) is a soft coupling;
    each slot of the instance head must hold exactly one instance (it is that
    instance's class), so the plan is rounded with the Hungarian algorithm,

    .. math:: \\sigma = \\arg\\max_{\\sigma \\text{ injective}} \\sum_i P_{i, \\sigma(i)},

    via ``scipy.optimize.linear_sum_assignment(P, maximize=True)``. For a
    square cost ``sigma`` is a permutation; with small ``reg`` it coincides
    with the exact OT (= minimum-cost) assignment.

    Args:
        cost: ``(m, n)`` instance-to-slot cost with ``m <= n`` (usually ``m == n == n_l``).
        reg: Entropic regularisation, relative to the largest cost.
        num_iter_max: Maximum Sinkhorn iterations.
        stop_thr: Sinkhorn stopping threshold on the marginal violation, relative to
            the marginals (:func:`relative_stop_threshold`: the absolute threshold at
            ``n = 40`` slots, scaled with the uniform marginal's norm). Looser
            than :func:`sinkhorn_plan`'s default, and POT's non-convergence
            warning is off, because only the rounded assignment is used: when
            the optimal plan is close to a permutation (small ``reg``, distinct
            instances) the Sinkhorn contraction factor is close to 1, so the
            last digits of the marginals take tens of thousands of iterations
            without changing which entry of each row is largest.

    Returns:
        ``slot_of_instance``: ``int64`` array ``(m,)`` of distinct slots;
        instance ``i`` goes to slot ``slot_of_instance[i]``.
    """
    cost = _as_cost(cost)
    m, n = cost.shape
    if m > n:
        raise ValueError(f"cost has more instances ({m}) than slots ({n}); each instance needs its own slot")
    rows, cols = _rounded_plan(cost, reg, num_iter_max, stop_thr)
    slot_of_instance = np.empty(m, dtype=np.int64)
    slot_of_instance[rows] = cols
    return slot_of_instance


def _rounded_plan(cost: np.ndarray, reg: float, num_iter_max: int, stop_thr: float) -> Tuple[np.ndarray, np.ndarray]:
    """The Sinkhorn plan of ``cost`` rounded to a one-to-one matching (Hungarian on the plan): ``(rows, cols)``."""
    plan = sinkhorn_plan(cost, reg, num_iter_max=num_iter_max,
                         stop_thr=relative_stop_threshold(stop_thr, cost.shape[1]), warn=False)
    return linear_sum_assignment(plan, maximize=True)


def select_for_slots(
    cost: np.ndarray,
    reg: float = 0.05,
    num_iter_max: int = 1000,
    stop_thr: float = 1e-6,
) -> np.ndarray:
    """The best-fitting candidate for each slot, from more candidates than slots.

    The Sinkhorn plan between ``m`` candidates (mass ``1/m`` each) and ``n <= m``
    slots (mass ``1/n`` each: every slot receives the mass of ``m / n``
    candidates) is rounded to an injective choice of one candidate per slot,

    .. math:: \tau = \arg\max_{\tau \text{ injective}} \sum_j P_{\tau(j), j},

    (Hungarian, ``linear_sum_assignment`` on the ``m x n`` plan); the ``m - n``
    candidates no slot chose are left out. With ``m = n`` this is
    :func:`align_to_slots` read the other way. Drawing more candidates than
    slots lets each instance class receive an image that belongs to it, where a
    one-to-one placement of exactly ``n`` uniform draws must put some images in
    another class's slots (a draw holds each class's images only in proportion
    on average).

    Args:
        cost: ``(m, n)`` candidate-to-slot cost with ``m >= n``.
        reg: Entropic regularisation, relative to the largest cost.
        num_iter_max: Maximum Sinkhorn iterations.
        stop_thr: Stopping threshold, relative to the marginals (:func:`relative_stop_threshold`).

    Returns:
        ``candidate_of_slot``: ``int64`` array ``(n,)`` of distinct candidate rows.
    """
    cost = _as_cost(cost)
    m, n = cost.shape
    if m < n:
        raise ValueError(f"cost has fewer candidates ({m}) than slots ({n}); each slot needs its own candidate")
    rows, cols = _rounded_plan(cost, reg, num_iter_max, stop_thr)
    candidate_of_slot = np.empty(n, dtype=np.int64)
    candidate_of_slot[cols] = rows
    return candidate_of_slot


#: Number of slots at which :func:`relative_stop_threshold` equals the threshold given
#: (digits' default n_l = 4k = 40).
STOP_REFERENCE_SLOTS = 40


def relative_stop_threshold(stop_thr: float, num_slots: int) -> float:
    """Absolute Sinkhorn threshold for ``num_slots`` uniform slots from a relative one.

    POT stops when ``||P^T 1 - b||_2 < threshold``. With uniform ``b`` of size
    ``n``, ``||b||_2 = 1 / sqrt(n)``: an absolute threshold that is tight at
    ``n = 40`` is 10 times looser relative to the marginals at ``n = 4,000``,
    so Sinkhorn would stop far earlier there. The threshold is
    therefore scaled with ``||b||_2``,

    .. math:: \text{threshold} = \text{stop\_thr} \sqrt{40 / n},

    the same at ``n = 40`` (so digits' plans are unchanged), and the same
    precision relative to the marginals at every ``n``.

    Args:
        stop_thr: The threshold at :data:`STOP_REFERENCE_SLOTS` slots.
        num_slots: ``n``, the number of slots (columns of the plan).

    Returns:
        The absolute threshold to give POT.
    """
    if num_slots == STOP_REFERENCE_SLOTS:
        return float(stop_thr)  # exactly, not up to rounding
    return float(stop_thr) * float(np.sqrt(STOP_REFERENCE_SLOTS / num_slots))


def instance_slot_cost(log_probs: np.ndarray) -> np.ndarray:
    """Cost of putting instance ``i`` in slot ``j``: ``C[i, j] = -log p(j | x_i)``.

    Args:
        log_probs: ``(m, n_l)`` log-softmax of the instance head on the new
            instances (numpy array or torch tensor).

    Returns:
        ``(m, n_l)`` non-negative float64 cost.
    """
    log_probs = np.asarray(as_numpy(log_probs), dtype=np.float64)
    if log_probs.ndim != 2:
        raise ValueError(f"log_probs must have shape (instances, slots), got {log_probs.shape}")
    if not np.all(np.isfinite(log_probs)):
        raise ValueError("log_probs must be finite (use log_softmax, not log of a softmax that underflowed)")
    if np.any(log_probs > 1e-6):
        raise ValueError("log_probs must be log-probabilities (<= 0); got positive values, pass log_softmax outputs")
    return np.maximum(-log_probs, 0.0)


# ---- how a round's drawn images take the entries (asd_alignment) -------------------------------------


class Placement:
    """A way to put a round's drawn candidates into the ``n_l`` entries (``asd_alignment``).

    Attributes:
        needs_log_probs: Whether :meth:`place` reads the instance head's log-softmax on the candidates
            after the first round.
        selects: Whether it can keep the best of more candidates than entries (``asd_draw_factor > 1``).
    """

    needs_log_probs = False
    selects = False

    def place(self, candidates: np.ndarray, log_probs: Optional[np.ndarray], num_entries: int,
              reg: float) -> np.ndarray:
        """The pool image of each entry, ``(num_entries,)``, chosen among ``candidates``.

        Args:
            candidates: ``(c * n_l,)`` distinct pool indices, in draw order.
            log_probs: ``(c * n_l, n_l)`` instance-head log-softmax on them (rows follow ``candidates``),
                or None in the first round (then every placement takes the draw order).
            num_entries: ``n_l``.
            reg: Sinkhorn's entropic regularisation, relative to the largest cost.
        """
        raise NotImplementedError


class TransportPlacement(Placement):
    """Entries by optimal transport on ``C[i, j] = -log p(j | x_i)`` (ASD, Sec. III-B).

    With as many candidates as entries, :func:`align_to_slots` (each instance class
    receives the image that fits it, so it keeps its meaning across rounds); with more,
    :func:`select_for_slots` (each class receives the best-fitting of ``c`` candidates).
    """

    needs_log_probs = True
    selects = True

    def place(self, candidates, log_probs, num_entries, reg):
        if log_probs is None:
            return candidates[:num_entries]
        cost = instance_slot_cost(log_probs)
        if len(candidates) > num_entries:
            return candidates[select_for_slots(cost, reg=reg)]
        entries = np.empty(num_entries, dtype=np.int64)
        entries[align_to_slots(cost, reg=reg)] = candidates
        return entries


class DrawOrderPlacement(Placement):
    """Entry ``e`` takes the ``e``-th drawn image (the ablation of the alignment)."""

    def place(self, candidates, log_probs, num_entries, reg):
        return candidates[:num_entries]


#: ``asd_alignment`` name -> placement.
PLACEMENTS = {"ot": TransportPlacement(), "none": DrawOrderPlacement()}
