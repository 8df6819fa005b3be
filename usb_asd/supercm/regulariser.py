"""SuperCM as a regulariser that composes with any USB learner.

USB-facing glue only: the clustering module and its loss live in
:mod:`usb_asd.supercm.module`. With ``supercm: True`` the run composes
:class:`SuperCMRegulariserMixin` with the learner (as ``adaptor: asd`` does), and
the learner's loss becomes

``L = L_learner + beta * ramp(it) * cm_loss(z_lb ∪ z_ulb)``

(SuperCM, Singh et al., Pattern Recognition 2025, arXiv 2507.13779, Eq. for the
total loss; the CM loss on the labelled and unlabelled batch together). What
the mixin changes in a learner:

* model: the net is wrapped in :class:`~usb_asd.supercm.net.ClusteringHeadNet`;
  by default the CM's assignment layer is the classifier (the paper);
* hooks: :class:`~usb_asd.supercm.hooks.SuperCMHook` refreshes the centroids and
  adds the CM loss before USB's parameter update;
* the centroids (buffers of the model) travel in USB's checkpoints.
"""

from __future__ import annotations

import copy
from inspect import signature
from typing import List

from ..config import PluginArgument, str2bool
from .module import CENTROID_AVERAGES, CENTROID_MODES, ClusteringModule
from .net import ClusteringHeadNet, feature_size

#: Which forward gives the centroids' features: the training step's own (this
#: project's default) or an eval-mode, no-gradient forward of the labelled batch
#: before the step (the public code's ``set_centroids``).
CENTROID_FORWARDS = ("train", "eval")

#: Where the CM's assignment layer sits: ``classifier`` (the paper) or ``beside`` the learner's own.
HEAD_MODES = ("classifier", "beside")

#: The regulariser's config keys. Defaults: the paper's public CE+CM setting
#: (beta 0.186, constant CM weight, temperature 1, supervised centroids, no
#: Dirichlet prior, no unlabelled samples admitted to the centroids).
SUPERCM_ARGUMENTS: List[PluginArgument] = [
    PluginArgument("--supercm", str2bool, False, "add SuperCM's clustering-module loss to the learner's"),
    PluginArgument("--supercm_beta", float, 0.186, "beta, weight of the clustering-module loss"),
    PluginArgument("--supercm_ramp_iter", int, 0,
                   "iterations over which beta ramps up as exp(-5 (1 - t)^2); 0: constant (the paper)"),
    PluginArgument("--supercm_temperature", float, 1.0, "T in g = softmax(W z / T)"),
    PluginArgument("--supercm_head", str, "classifier", f"one of {HEAD_MODES}: the CM's assignment layer "
                   "is the learner's classifier (the paper) or sits beside it"),
    PluginArgument("--supercm_centroids", str, "supervised", f"one of {CENTROID_MODES}: class means of "
                   "labelled features (SuperCM) or learned centroids (plain CM)"),
    PluginArgument("--supercm_centroid_momentum", float, 0.0,
                   "0: exact running mean of every labelled feature seen; in (0, 1]: EMA momentum"),
    PluginArgument("--supercm_centroid_forward", str, "train", f"one of {CENTROID_FORWARDS}: centroid features "
                   "from the training forward, or from an eval-mode forward of the labelled batch before the "
                   "step (public code)"),
    PluginArgument("--supercm_centroid_average", str, "sample", f"one of {CENTROID_AVERAGES}: exact mean of "
                   "every labelled feature, or the public code's per-iteration average (m_k + (i-1) mu_k) / i"),
    PluginArgument("--supercm_admit_threshold", float, 0.0,
                   "0: off; else unlabelled samples whose CM confidence reaches it join the centroids (paper: 0.95)"),
    PluginArgument("--supercm_alpha", float, 1.0, "Dirichlet prior concentration of E4; 1 switches it off"),
]


def check_supercm_args(args) -> None:
    """Check the ``supercm_*`` keys, naming the key and what was expected."""
    if args.supercm_head not in HEAD_MODES:
        raise ValueError(f"supercm_head must be one of {HEAD_MODES}, got {args.supercm_head!r}")
    if args.supercm_centroids not in CENTROID_MODES:
        raise ValueError(f"supercm_centroids must be one of {CENTROID_MODES}, got {args.supercm_centroids!r}")
    if args.supercm_beta < 0:
        raise ValueError(f"supercm_beta must be >= 0, got {args.supercm_beta}")
    if args.supercm_ramp_iter < 0:
        raise ValueError(f"supercm_ramp_iter must be >= 0, got {args.supercm_ramp_iter}")
    if not 0.0 <= args.supercm_centroid_momentum <= 1.0:
        raise ValueError(f"supercm_centroid_momentum must be in [0, 1], got {args.supercm_centroid_momentum}")
    if args.supercm_centroid_forward not in CENTROID_FORWARDS:
        raise ValueError(f"supercm_centroid_forward must be one of {CENTROID_FORWARDS}, "
                         f"got {args.supercm_centroid_forward!r}")
    if args.supercm_centroid_average not in CENTROID_AVERAGES:
        raise ValueError(f"supercm_centroid_average must be one of {CENTROID_AVERAGES}, "
                         f"got {args.supercm_centroid_average!r}")
    if args.supercm_centroid_average == "iteration" and args.supercm_centroid_momentum > 0:
        raise ValueError("supercm_centroid_average: iteration and supercm_centroid_momentum > 0 are two "
                         "different running means: set supercm_centroid_momentum: 0.0")
    if not 0.0 <= args.supercm_admit_threshold <= 1.0:
        raise ValueError(f"supercm_admit_threshold must be in [0, 1] (0: off), got {args.supercm_admit_threshold}")
    if args.supercm_temperature <= 0:
        raise ValueError(f"supercm_temperature must be > 0, got {args.supercm_temperature}")
    if args.supercm_alpha <= 0:
        raise ValueError(f"supercm_alpha must be > 0 (1: off), got {args.supercm_alpha}")


def clustering_module_from_args(args, feat_dim: int) -> ClusteringModule:
    """Check the ``supercm_*`` keys and build the clustering module they describe."""
    check_supercm_args(args)
    momentum = args.supercm_centroid_momentum or None
    return ClusteringModule(
        feat_dim,
        args.num_classes,
        temperature=args.supercm_temperature,
        centroids=args.supercm_centroids,
        alpha=None if args.supercm_alpha == 1.0 else args.supercm_alpha,
        momentum=momentum,
        average=args.supercm_centroid_average,
    )


class SuperCMRegulariserMixin:
    """Adds SuperCM's clustering-module loss to a USB learner; placed before the learner in the MRO."""

    def __init__(self, args, net_builder, tb_log=None, logger=None, **kwargs) -> None:
        check_supercm_args(args)  # before USB builds nets and loaders
        self.supercm_batch: dict = {}
        super().__init__(args, net_builder, tb_log=tb_log, logger=logger, **kwargs)

    # ---- model ------------------------------------------------------------
    def set_model(self):
        net = super().set_model()
        cm = clustering_module_from_args(self.args, feature_size(net))
        # Kept for the hook: the same module object stays inside whatever wraps
        # the model later (ASD's TwoHeadNet, DDP).
        self.clustering_module = cm
        return ClusteringHeadNet(net, cm, as_classifier=self.args.supercm_head == "classifier")

    def set_ema_model(self):
        # A copy of the wrapped model (USB rebuilds an unwrapped net and loads
        # the model's weights, whose keys no longer match).
        return copy.deepcopy(self.model)

    # ---- data ---------------------------------------------------------------
    def process_batch(self, input_args=None, **kwargs):
        if input_args is None:
            input_args = list(signature(self.train_step).parameters.keys())
        batch = super().process_batch(input_args, **kwargs)
        # The hook needs the images and labels even if the learner's step does
        # not return features for them.
        self.supercm_batch = {key: batch.get(key) for key in ("x_lb", "y_lb", "x_ulb_w")}
        from .hooks import refresh_centroids_before_step

        refresh_centroids_before_step(self)
        return batch

    # ---- hooks --------------------------------------------------------------
    def set_hooks(self) -> None:
        from .hooks import SuperCMHook

        # Before the learner's hooks at the highest priority: the CM loss is in
        # the total before USB's ParamUpdateHook steps.
        self.register_hook(SuperCMHook(), "SuperCMHook", "HIGHEST")
        super().set_hooks()
