r"""The SuperCM clustering module (CM) and its loss, independent of USB.

Reference: Singh, Boubekki, Jenssen, Kampffmeyer, "SuperCM: Improving
Semi-Supervised Learning and Domain Adaptation through differentiable
clustering", Pattern Recognition 2025 (arXiv 2507.13779); ICASSP 2023 version
arXiv 2506.23824; public code Durgesh93/SuperCM (``lib/wrn.py::cm``,
``lib/algs/cm_loss.py``).

The CM is a one-layer autoencoder on backbone features ``z`` (n x d):

* encoder (soft assignments): ``g = softmax((W z + b) / T)`` over ``K``
  clusters, one per class; the logits ``(W z + b) / T`` double as a classifier
  (cross-entropy on labelled rows, arg-max for prediction);
* decoder (reconstruction): ``z_hat_i = sum_k g_ik mu_k`` with centroids ``mu``
  (K x d).

Its loss, a differentiable surrogate of a Gaussian-mixture Q-function (paper,
Sec. "Clustering module"), has four terms, the first three normalised by
``n d``; see :func:`cm_loss_terms`.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from .centroids import RunningClassMeans

__all__ = [
    "CENTROID_AVERAGES",
    "CENTROID_MODES",
    "DEFAULT_CONFIDENCE_THRESHOLD",
    "ClusteringModule",
    "cm_loss_terms",
]

#: Allowed values of ``ClusteringModule(centroids=...)``.
CENTROID_MODES = ("supervised", "learned")
#: Allowed values of ``ClusteringModule(average=...)``: exact sample mean (this
#: project) or the public code's per-iteration average of batch class means.
CENTROID_AVERAGES = ("sample", "iteration")
#: Confidence threshold for admitting unlabelled rows to the centroids (paper: 0.95).
DEFAULT_CONFIDENCE_THRESHOLD = 0.95
#: Floor inside the log of E4, as in the public code (``log(mean g + 1e-10)``);
#: here a clamp, so E4 is exact whenever every ``mean_i g_ik >= 1e-10``.
_E4_EPS = 1e-10

AlphaLike = Union[None, float, Sequence[float], torch.Tensor]


def _alpha_tensor(alpha: AlphaLike, num_classes: int) -> Optional[torch.Tensor]:
    """Validate a Dirichlet concentration; ``None`` or all-ones means "off"."""
    if alpha is None:
        return None
    a = torch.as_tensor(alpha, dtype=torch.float64).detach().clone()
    if a.dim() == 0:
        a = a.expand(num_classes).clone()
    if a.dim() != 1 or a.shape[0] != num_classes:
        raise ValueError(
            f"alpha must be None, a scalar or a ({num_classes},) vector, got shape {tuple(a.shape)}"
        )
    if not bool(torch.isfinite(a).all()) or bool((a <= 0).any()):
        raise ValueError("alpha must be finite and > 0 (Dirichlet concentration)")
    return a


def cm_loss_terms(
    z: torch.Tensor,
    g: torch.Tensor,
    mu: torch.Tensor,
    alpha: AlphaLike = None,
) -> Dict[str, torch.Tensor]:
    r"""The four terms of the clustering-module loss (SuperCM, Singh et al. 2025).

    With features ``z`` (n x d), soft assignments ``g`` (n x K) and centroids
    ``mu`` (K x d), ``z_hat = g mu``:

    * ``E1 = ||z - g mu||_F^2 / (n d)`` (reconstruction),
    * ``E2 = sum_k (sum_i g_ik (1 - g_ik)) ||mu_k||^2 / (n d)`` (assignment
      sparsity: pushes ``g`` towards one-hot rows),
    * ``E3 = - sum_{k != l} (g^T g)_kl mu_k^T mu_l / (n d)`` (centroid
      interaction),
    * ``E4 = sum_k (1 - alpha_k) log(mean_i g_ik)`` (negative log of a
      Dirichlet(alpha) prior on the cluster proportions; 0 when ``alpha`` is
      None or all ones; ``alpha_k > 1`` favours balanced clusters). It is not
      normalised by ``n d`` (as in the public code), and the mean is clamped
      at ``1e-10`` before the log.

    ``total = E1 + E2 + E3 + E4``.

    Identity (soft k-means). When every row of ``g`` sums to 1,

    ``E1 + E2 + E3 = (1 / (n d)) sum_i sum_k g_ik ||z_i - mu_k||^2``.

    Proof sketch (drop the common factor ``1 / (n d)``). Expand

    ``E1 = sum_i ||z_i||^2 - 2 sum_i sum_k g_ik z_i^T mu_k
    + sum_i sum_{k,l} g_ik g_il mu_k^T mu_l``,

    ``D := sum_i sum_k g_ik ||z_i - mu_k||^2 = sum_i (sum_k g_ik) ||z_i||^2
    - 2 sum_i sum_k g_ik z_i^T mu_k + sum_i sum_k g_ik ||mu_k||^2``.

    With ``sum_k g_ik = 1`` the first two terms agree, so

    ``D - E1 = sum_k (sum_i g_ik) ||mu_k||^2 - sum_{k,l} (g^T g)_kl mu_k^T mu_l``.

    Split the double sum into ``k = l`` (``(g^T g)_kk = sum_i g_ik^2``) and
    ``k != l``: ``D - E1 = sum_k (sum_i g_ik - g_ik^2) ||mu_k||^2
    - sum_{k != l} (g^T g)_kl mu_k^T mu_l = E2 + E3``. ∎

    Args:
        z: (n, d) features, ``n >= 1``.
        g: (n, K) assignments (rows on the simplex for the identity above;
            the terms are computed whatever ``g`` is).
        mu: (K, d) centroids.
        alpha: Dirichlet concentration: None (off), a scalar, or a (K,)
            vector/tensor; ``1`` switches the term off.

    Returns:
        Dict with 0-d tensors ``e1``, ``e2``, ``e3``, ``e4`` and ``total``,
        differentiable w.r.t. ``z``, ``g`` and ``mu``.

    Raises:
        ValueError: on shape mismatches or an invalid ``alpha``.
    """
    k = _check_shapes(z, g, mu)
    return _terms(z, g, mu, _alpha_tensor(alpha, k))


def _check_shapes(z: torch.Tensor, g: torch.Tensor, mu: torch.Tensor) -> int:
    """Raise ValueError unless z is (n, d), g (n, K), mu (K, d) with n >= 1; return K."""
    if z.dim() != 2 or z.shape[0] < 1:
        raise ValueError(f"z must have shape (n, d) with n >= 1, got {tuple(z.shape)}")
    n, d = z.shape
    if g.dim() != 2 or g.shape[0] != n:
        raise ValueError(f"g must have shape ({n}, K), got {tuple(g.shape)}")
    k = g.shape[1]
    if mu.dim() != 2 or mu.shape != (k, d):
        raise ValueError(f"mu must have shape ({k}, {d}), got {tuple(mu.shape)}")
    return k


def _terms(
    z: torch.Tensor, g: torch.Tensor, mu: torch.Tensor, alpha: Optional[torch.Tensor]
) -> Dict[str, torch.Tensor]:
    """E1..E4 for validated shapes and a validated (K,) ``alpha`` or None."""
    nd = float(z.shape[0] * z.shape[1])
    e1 = (z - g @ mu).square().sum() / nd
    e2 = ((g * (1.0 - g)).sum(0) * mu.square().sum(1)).sum() / nd
    # Off-diagonal part of (g^T g) * (mu mu^T): full sum minus its trace.
    gu = (g.t() @ g) * (mu @ mu.t())
    e3 = -(gu.sum() - gu.diagonal().sum()) / nd
    if alpha is None:
        e4 = z.new_zeros(())
    else:
        a = alpha.to(device=g.device, dtype=g.dtype)
        e4 = ((1.0 - a) * g.mean(0).clamp_min(_E4_EPS).log()).sum()
    return {"e1": e1, "e2": e2, "e3": e3, "e4": e4, "total": e1 + e2 + e3 + e4}


class ClusteringModule(nn.Module):
    r"""SuperCM clustering module: soft-assignment layer plus centroids.

    ``forward(z)`` gives ``logits = (W z + b) / T`` (the temperature divides
    the whole affine output, as in the public code) and
    ``assignments = g = softmax(logits)``. The centroids ``mu`` are

    * ``"supervised"`` (SuperCM): running class means of labelled features
      kept in a :class:`RunningClassMeans` (``self.class_means``, buffers, no
      gradient), refreshed by :meth:`update_centroids`; optionally also with
      confident unlabelled rows. Classes never seen have a zero centroid.
    * ``"learned"`` (plain CM): an ``nn.Parameter`` (K x d) trained by the
      loss, initialised uniformly in ``[-1/sqrt(K), 1/sqrt(K)]`` like the
      public code's ``nn.Linear(K, d)`` decoder (whose bias we drop, since
      a bias breaks the soft k-means identity of :func:`cm_loss_terms`).

    Args:
        feat_dim: feature dimension ``d``.
        num_classes: number of classes = clusters ``K``.
        temperature: softmax temperature ``T > 0``.
        centroids: ``"supervised"`` or ``"learned"``.
        alpha: Dirichlet prior concentration for E4: None (off), scalar or
            (K,) sequence/tensor; stored as a buffer when given.
        momentum: for ``"supervised"``: None (exact cumulative class means)
            or EMA momentum, see :class:`RunningClassMeans`.
        average: for ``"supervised"`` without momentum: ``"sample"`` (the
            exact mean of every feature seen) or ``"iteration"`` (the public
            code's ``mu_k <- (m_k + (i - 1) mu_k) / i``, see
            :meth:`RunningClassMeans.update_iteration_average`).

    Raises:
        ValueError: for bad ``feat_dim``/``num_classes``, ``temperature <= 0``,
            an unknown ``centroids`` mode or an invalid ``alpha``.
    """

    alpha: Optional[torch.Tensor]

    def __init__(
        self,
        feat_dim: int,
        num_classes: int,
        temperature: float = 1.0,
        centroids: str = "supervised",
        alpha: AlphaLike = None,
        momentum: Optional[float] = None,
        average: str = "sample",
    ) -> None:
        super().__init__()
        if int(feat_dim) != feat_dim or feat_dim < 1:
            raise ValueError(f"feat_dim must be a positive integer, got {feat_dim!r}")
        if int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        if not math.isfinite(float(temperature)) or float(temperature) <= 0:
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        if centroids not in CENTROID_MODES:
            raise ValueError(f"centroids must be one of {CENTROID_MODES}, got {centroids!r}")
        if average not in CENTROID_AVERAGES:
            raise ValueError(f"average must be one of {CENTROID_AVERAGES}, got {average!r}")
        if average == "iteration" and momentum is not None:
            raise ValueError("average='iteration' and an EMA momentum are two different running means: choose one")
        self.average = average
        self.feat_dim = int(feat_dim)
        self.num_classes = int(num_classes)
        self.temperature = float(temperature)
        self.centroid_mode = centroids

        self.assign = nn.Linear(self.feat_dim, self.num_classes)
        a = _alpha_tensor(alpha, self.num_classes)
        self.register_buffer("alpha", None if a is None else a.float())

        self.class_means: Optional[RunningClassMeans]
        self.mu: Optional[nn.Parameter]
        if centroids == "supervised":
            self.class_means = RunningClassMeans(self.num_classes, self.feat_dim, momentum=momentum)
            self.mu = None
        else:
            self.class_means = None
            bound = 1.0 / math.sqrt(self.num_classes)
            self.mu = nn.Parameter(torch.empty(self.num_classes, self.feat_dim).uniform_(-bound, bound))

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, centroids={self.centroid_mode!r}"

    def _check_z(self, z: torch.Tensor, name: str = "z") -> None:
        if z.dim() != 2 or z.shape[1] != self.feat_dim:
            raise ValueError(f"{name} must have shape (n, {self.feat_dim}), got {tuple(z.shape)}")

    def forward(self, z: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Soft assignments of features to the ``K`` clusters/classes.

        Args:
            z: (n, d) features.

        Returns:
            ``{"logits": (W z + b) / T, "assignments": softmax(logits, dim=1)}``,
            both (n, K).
        """
        self._check_z(z)
        logits = self.assign(z) / self.temperature
        return {"logits": logits, "assignments": F.softmax(logits, dim=1)}

    @torch.no_grad()
    def predict(self, z: torch.Tensor) -> torch.Tensor:
        """Class prediction ``argmax_k g_k`` (n,) for features ``z`` (n, d)."""
        return self.forward(z)["logits"].argmax(dim=1)

    def centroids(self) -> torch.Tensor:
        """Current centroids ``mu`` (K x d).

        Returns:
            ``"supervised"``: the running class means (zeros for classes never
            seen), detached, in the assignment layer's dtype/device.
            ``"learned"``: the centroid parameter itself (with gradient).
        """
        if self.mu is not None:
            return self.mu
        assert self.class_means is not None
        w = self.assign.weight
        return self.class_means.means.to(device=w.device, dtype=w.dtype).detach()

    def loss_terms(self, z: torch.Tensor, g: torch.Tensor, mu: torch.Tensor) -> Dict[str, torch.Tensor]:
        """:func:`cm_loss_terms` with this module's ``alpha``.

        Args:
            z: (n, d) features.
            g: (n, K) assignments.
            mu: (K, d) centroids.

        Returns:
            The dict of :func:`cm_loss_terms`.
        """
        if _check_shapes(z, g, mu) != self.num_classes:
            raise ValueError(f"g must have {self.num_classes} columns, got {g.shape[1]}")
        # alpha was validated at construction: skip re-validating it (a device sync).
        return _terms(z, g, mu, self.alpha)

    def loss(self, z: torch.Tensor, assignments: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """CM loss terms of features ``z`` under the current centroids.

        Args:
            z: (n, d) features (gradients flow back to them and to ``W``, ``b``).
            assignments: optional precomputed ``g = forward(z)["assignments"]``
                to avoid a second pass.

        Returns:
            The dict of :func:`cm_loss_terms` (``e1``..``e4``, ``total``) with
            ``mu = centroids()``: no gradient to supervised centroids, gradient
            to learned ones.
        """
        self._check_z(z)
        g = self.forward(z)["assignments"] if assignments is None else assignments
        # Sums of squares over n x d entries overflow float16/bfloat16 easily
        # (AMP): evaluate the loss in at least float32 (casts are differentiable).
        dt = torch.promote_types(z.dtype, torch.float32)
        return self.loss_terms(z.to(dt), g.to(dt), self.centroids().to(dt))

    @torch.no_grad()
    def update_centroids(
        self,
        z_lb: torch.Tensor,
        y_lb: torch.Tensor,
        z_ulb: Optional[torch.Tensor] = None,
        probs_ulb: Optional[torch.Tensor] = None,
        threshold: Optional[float] = None,
        iteration: Optional[int] = None,
    ) -> Optional[torch.Tensor]:
        """Refresh the supervised centroids with a batch (call once per iteration).

        Labelled features go into the class means (labels ``< 0`` ignored).
        When ``z_ulb`` is given, its rows with confidence
        ``max_k p_ik >= threshold`` join too, with class ``argmax_k p_ik``;
        ``p = probs_ulb`` if given, else this module's assignments of
        ``z_ulb``. In ``"learned"`` mode this is a no-op (returns None), so a
        trainer can call it unconditionally.

        Args:
            z_lb: (n_l, d) labelled features.
            y_lb: (n_l,) labels.
            z_ulb: optional (n_u, d) unlabelled features.
            probs_ulb: optional (n_u, K) probabilities for ``z_ulb``.
            threshold: confidence threshold; default
                :data:`DEFAULT_CONFIDENCE_THRESHOLD` (0.95) when ``z_ulb`` is given.
            iteration: the global iteration ``i >= 1``; required with
                ``average="iteration"`` (labelled and admitted rows then form
                one batch mean, as in the public code), ignored otherwise.

        Returns:
            Bool mask (n_u,) of admitted unlabelled rows, or None when no
            unlabelled rows were given (or in ``"learned"`` mode).

        Raises:
            ValueError: on shape mismatches, ``probs_ulb``/``threshold``
                without ``z_ulb``, or no ``iteration`` with ``average="iteration"``.
        """
        if z_ulb is None and (probs_ulb is not None or threshold is not None):
            raise ValueError("z_ulb is required when probs_ulb or threshold is given")
        self._check_z(z_lb, "z_lb")
        if z_ulb is not None:
            self._check_z(z_ulb, "z_ulb")
        if self.class_means is None:
            return None
        if self.average == "iteration":
            if iteration is None:
                raise ValueError("average='iteration' needs the global iteration")
            return self._update_iteration_average(z_lb, y_lb, z_ulb, probs_ulb, threshold, int(iteration))
        self.class_means.update(z_lb, y_lb)
        if z_ulb is None:
            return None
        if probs_ulb is None:
            probs_ulb = self.forward(z_ulb)["assignments"]
        thr = DEFAULT_CONFIDENCE_THRESHOLD if threshold is None else threshold
        return self.class_means.update_confident(z_ulb, probs_ulb, thr)

    def _update_iteration_average(self, z_lb, y_lb, z_ulb, probs_ulb, threshold, iteration):
        """Labelled rows and admitted unlabelled rows as one batch of the iteration average."""
        assert self.class_means is not None
        if z_ulb is None:
            self.class_means.update_iteration_average(z_lb, y_lb, iteration)
            return None
        if probs_ulb is None:
            probs_ulb = self.forward(z_ulb)["assignments"]
        thr = DEFAULT_CONFIDENCE_THRESHOLD if threshold is None else threshold
        if probs_ulb.shape != (z_ulb.shape[0], self.num_classes):
            raise ValueError(f"probs_ulb must have shape ({z_ulb.shape[0]}, {self.num_classes})")
        conf, pred = probs_ulb.detach().max(dim=1)
        mask = conf >= thr
        pseudo = torch.where(mask, pred, torch.full_like(pred, -1)).to(y_lb.device)
        self.class_means.update_iteration_average(
            torch.cat([z_lb, z_ulb.to(z_lb.device)]), torch.cat([y_lb.long(), pseudo]), iteration
        )
        return mask
