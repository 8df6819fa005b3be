"""Class-wise running means of features: the "Super" centroids of SuperCM.

In SuperCM (Singh, Boubekki, Jenssen, Kampffmeyer, Pattern Recognition 2025,
arXiv 2507.13779; ICASSP 2023, arXiv 2506.23824) the centroids ``mu_k`` of the
clustering module are not learned: ``mu_k`` is the mean of the backbone
features of the labelled samples of class ``k``, refreshed every iteration and
carrying no gradient. Optionally, unlabelled samples whose confidence passes a
threshold (0.95 in the paper) are admitted with their arg-max as class.

Choice of running mean (documented deviation from the public code):
    by default :class:`RunningClassMeans` keeps the *exact cumulative mean*
    ``mu_k = sum_{t, i: y_ti = k} z_ti / #{t, i: y_ti = k}`` over every labelled
    feature seen so far. The public code (``lib/util.py::set_centroids``)
    instead averages per-batch class means with the iteration counter
    (``mu_k <- (m_k + (i - 1) mu_k) / i``), which weights batches, not samples,
    and also counts iterations in which class ``k`` was absent. The exact
    sample mean is what the paper describes; an exponential moving average
    (``momentum``) is available for features that drift quickly.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

__all__ = ["RunningClassMeans"]


class RunningClassMeans(nn.Module):
    """Per-class running mean of feature vectors, stored in buffers.

    The state is two buffers, so that a USB checkpoint (``state_dict``) carries
    it: ``sums`` (K x d) and ``counts`` (K,). The invariant is
    ``means[k] = sums[k] / counts[k]`` for every class with ``counts[k] > 0``.

    * ``momentum=None`` (default): exact cumulative mean. ``sums[k]`` is the
      (weighted) sum of all features of class ``k`` seen so far and
      ``counts[k]`` the sum of their weights (the number of samples when
      unweighted), so ``means[k]`` equals the mean of all those features.
    * ``momentum=m`` in ``(0, 1]``: exponential moving average in the
      BatchNorm convention. The first batch containing class ``k`` sets
      ``mu_k`` to that batch's class mean ``b_k``; later batches set
      ``mu_k <- (1 - m) mu_k + m b_k``. ``counts`` still accumulates the
      weights (so ``seen`` works) and ``sums`` is kept at ``mu_k * counts[k]``.

    Classes absent from a batch keep their centroid unchanged (bit for bit).
    Classes never seen have ``counts == 0``; their centroid is reported as the
    zero vector (``means``) and flagged ``False`` in ``seen``.

    Note:
        The buffers are float64 by default so that long runs of accumulation do
        not lose precision; ``Module.float()``/``.half()`` would cast them, so
        avoid calling those on a module holding this one (``.to(device)`` is
        fine).

    Args:
        num_classes: number of classes ``K >= 1``.
        feat_dim: feature dimension ``d >= 1``.
        momentum: ``None`` for the exact cumulative mean, or EMA momentum in
            ``(0, 1]`` (weight of the new batch mean).
        dtype: floating dtype of the buffers (default float64).

    Raises:
        ValueError: for ``num_classes < 1``, ``feat_dim < 1``, ``momentum`` out
            of ``(0, 1]`` or a non-floating ``dtype``.
    """

    sums: torch.Tensor
    counts: torch.Tensor

    def __init__(
        self,
        num_classes: int,
        feat_dim: int,
        momentum: Optional[float] = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        if int(feat_dim) != feat_dim or feat_dim < 1:
            raise ValueError(f"feat_dim must be a positive integer, got {feat_dim!r}")
        if momentum is not None and not (0.0 < float(momentum) <= 1.0):
            raise ValueError(f"momentum must be None or in (0, 1], got {momentum!r}")
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype, got {dtype!r}")
        self.num_classes = int(num_classes)
        self.feat_dim = int(feat_dim)
        self.momentum = None if momentum is None else float(momentum)
        self.register_buffer("sums", torch.zeros(self.num_classes, self.feat_dim, dtype=dtype))
        self.register_buffer("counts", torch.zeros(self.num_classes, dtype=dtype))

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, feat_dim={self.feat_dim}, momentum={self.momentum}"

    @property
    def seen(self) -> torch.Tensor:
        """Bool mask (K,): ``True`` for classes with at least one (weighted) sample."""
        return self.counts > 0

    @property
    def means(self) -> torch.Tensor:
        """Current centroids (K x d), in the buffers' dtype, without gradient.

        Returns:
            ``sums[k] / counts[k]`` for seen classes and the zero vector for
            classes never seen (see :attr:`seen`).
        """
        seen = self.seen
        # Divide by 1 where unseen: sums are 0 there, so the centroid is 0, not NaN.
        denom = torch.where(seen, self.counts, torch.ones_like(self.counts))
        return (self.sums / denom.unsqueeze(1)).detach()

    def reset(self) -> None:
        """Forget everything (all classes unseen again)."""
        self.sums.zero_()
        self.counts.zero_()

    def _check_features(self, features: torch.Tensor) -> None:
        if features.dim() != 2 or features.shape[1] != self.feat_dim:
            raise ValueError(
                f"features must have shape (n, {self.feat_dim}), got {tuple(features.shape)}"
            )

    @torch.no_grad()
    def update(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        weights: Optional[torch.Tensor] = None,
    ) -> None:
        """Add a batch of labelled features (detached) to the class means.

        With ``w_i`` the weights (1 by default) and ``S_k = {i : y_i = k}``:
        cumulative mode adds ``sum_{i in S_k} w_i z_i`` to ``sums[k]`` and
        ``sum_{i in S_k} w_i`` to ``counts[k]``; EMA mode blends the batch mean
        ``b_k = sum w_i z_i / sum w_i`` into ``mu_k`` (see the class docstring).
        Rows with ``labels < 0`` (USB's "no label") are ignored, and so are
        classes whose total batch weight is 0.

        Args:
            features: (n, d) features; detached and cast to the buffers'
                dtype/device.
            labels: (n,) integer class ids in ``[-inf, K)``; negatives ignored.
            weights: optional (n,) non-negative per-row weights.

        Raises:
            ValueError: on shape mismatches, non-integer labels, labels ``>= K``
                or negative weights.
        """
        stats = self._batch_statistics(features, labels, weights)
        if stats is None:
            return
        batch_sums, batch_counts = stats
        present = batch_counts > 0

        if self.momentum is None:
            # Exact cumulative mean: only touch present classes, so absent ones
            # keep their buffers (and hence their centroid) exactly.
            self.sums[present] += batch_sums[present]
            self.counts[present] += batch_counts[present]
            return
        self._blend(batch_sums, batch_counts, self.momentum)

    @torch.no_grad()
    def update_iteration_average(self, features: torch.Tensor, labels: torch.Tensor, iteration: int) -> None:
        """The public SuperCM code's per-iteration cumulative average of batch class means.

        ``lib/util.py::set_centroids`` of Durgesh93/SuperCM: at global iteration
        ``i`` (from 1), every class ``k`` present in the batch gets
        ``mu_k <- (m_k + (i - 1) mu_k) / i`` with ``m_k`` the batch's class mean;
        absent classes keep ``mu_k``. It weights batches, not samples, and
        counts the iterations a class was absent. One documented difference:
        the public centroids start from the decoder's random initialisation,
        here a class's first batch sets ``mu_k = m_k`` (what the formula gives
        at ``i = 1``), so no trace of an initialisation remains. ``counts``
        still accumulates samples (for :attr:`seen`).

        Args:
            features: (n, d) features (detached, cast to the buffers' dtype).
            labels: (n,) class ids; negatives ignored.
            iteration: global iteration ``i >= 1``.

        Raises:
            ValueError: for ``iteration < 1`` and as :meth:`update`.
        """
        if int(iteration) < 1:
            raise ValueError(f"iteration must be >= 1, got {iteration!r}")
        stats = self._batch_statistics(features, labels, None)
        if stats is None:
            return
        self._blend(stats[0], stats[1], 1.0 / int(iteration))

    def _batch_statistics(
        self, features: torch.Tensor, labels: torch.Tensor, weights: Optional[torch.Tensor]
    ) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
        """Validated per-class weighted sums (K, d) and weights (K,) of a batch; None if no row counts."""
        self._check_features(features)
        n = features.shape[0]
        if labels.dim() != 1 or labels.shape[0] != n:
            raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(f"labels must be an integer tensor, got dtype {labels.dtype}")
        if weights is not None and (weights.dim() != 1 or weights.shape[0] != n):
            raise ValueError(f"weights must have shape ({n},), got {tuple(weights.shape)}")
        if n == 0:
            return None
        device, dtype = self.sums.device, self.sums.dtype
        labels = labels.to(device=device, dtype=torch.long)
        if int(labels.max()) >= self.num_classes:
            raise ValueError(f"labels must be < num_classes={self.num_classes}, got {int(labels.max())}")
        z = features.detach().to(device=device, dtype=dtype)
        w = (
            torch.ones(n, device=device, dtype=dtype)
            if weights is None
            else weights.detach().to(device=device, dtype=dtype)
        )
        if weights is not None and bool((w < 0).any()):
            raise ValueError("weights must be non-negative")
        keep = labels >= 0
        if not bool(keep.any()):
            return None
        z, w, labels = z[keep], w[keep], labels[keep]
        batch_sums = torch.zeros_like(self.sums).index_add_(0, labels, z * w.unsqueeze(1))
        batch_counts = torch.zeros_like(self.counts).index_add_(0, labels, w)
        return batch_sums, batch_counts

    def _blend(self, batch_sums: torch.Tensor, batch_counts: torch.Tensor, m: float) -> None:
        """``mu_k <- (1 - m) mu_k + m b_k`` for present classes (``b_k`` on a class's first batch)."""
        present = batch_counts > 0
        old_means = self.means
        batch_means = batch_sums[present] / batch_counts[present].unsqueeze(1)
        first = ~self.seen[present]
        blended = torch.where(
            first.unsqueeze(1), batch_means, (1.0 - m) * old_means[present] + m * batch_means
        )
        new_counts = self.counts[present] + batch_counts[present]
        # Keep the invariant means = sums / counts.
        self.sums[present] = blended * new_counts.unsqueeze(1)
        self.counts[present] = new_counts

    @torch.no_grad()
    def update_confident(
        self,
        features: torch.Tensor,
        probs: torch.Tensor,
        threshold: float,
    ) -> torch.Tensor:
        """Admit unlabelled rows whose confidence reaches ``threshold``.

        A row ``i`` is admitted when ``max_k probs[i, k] >= threshold``, with
        class ``argmax_k probs[i, k]`` (the pseudo-labelled variant of SuperCM,
        threshold 0.95 in the paper); admitted rows go through :meth:`update`
        with unit weight.

        Args:
            features: (n, d) unlabelled features.
            probs: (n, K) class probabilities (e.g. the CM assignments ``g``).
            threshold: confidence threshold in ``[0, 1]``.

        Returns:
            Bool mask (n,) of the admitted rows, on ``probs``' device.

        Raises:
            ValueError: on shape mismatches or ``threshold`` outside ``[0, 1]``.
        """
        self._check_features(features)
        n = features.shape[0]
        if probs.dim() != 2 or probs.shape != (n, self.num_classes):
            raise ValueError(
                f"probs must have shape ({n}, {self.num_classes}), got {tuple(probs.shape)}"
            )
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
        conf, pred = probs.detach().max(dim=1)
        mask = conf >= threshold
        # Unadmitted rows get label -1, which update() ignores (no boolean
        # indexing of features on a possibly different device).
        labels = torch.where(mask, pred, torch.full_like(pred, -1))
        self.update(features, labels)
        return mask
