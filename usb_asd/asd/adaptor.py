"""The ASD adaptor as a mixin that composes with any USB learner.

USB-facing glue only: the method itself lives in :mod:`usb_asd.asd.pipeline`
and its four stages. What the mixin changes in a learner:

* data: no labelled split is read; the "labelled" loader's workers build the
  views of the instances in the slots it draws (:mod:`.slot_data`: weak, and
  strong where the learner wants ``x_lb_s``) and :meth:`process_batch`
  attaches their cluster-level labels;
* model: the backbone gets an instance head (:class:`~usb_asd.nets.two_head.TwoHeadNet`);
* hooks: :class:`~usb_asd.asd.hooks.ASDInstanceHook` adds the instance loss and
  feeds class transition tracking; :class:`~usb_asd.asd.hooks.ASDRoundHook`
  re-clusters and redraws the sample set on schedule;
* checkpoints carry the label builder's whole state.
"""

from __future__ import annotations

import copy
from inspect import signature
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..budget import int_or_auto
from ..config import PluginArgument
from ..core.checkpoint_codec import decode, encode
from ..data.eval_view import EvalView
from ..nets.two_head import TwoHeadNet, unwrap
from ..outputs.assignments import image_names
from .cluster_maps import CLUSTER_MAPS
from .feature_clusters import FEATURE_CLUSTERINGS
from .mapping import DISTANCES
from .distributed import distributed_world, make_label_builder, sum_over_ranks
from .pipeline import (ALIGNMENTS, MAPPINGS, SAMPLER_NAMES, ASDSettings, default_num_instances,
                       resolve_draw_factor)
from .init_assignments import read_given_assignments
from .instance_objective import BalancedInstanceObjective
from .prototype_means import PROTOTYPE_UPDATES, PrototypeLloyd, epoch_momentum, lloyd_queue_length
from .label_gate import SWITCH_RULES, MapAgreementGate, held_re_clusterings
from .slot_data import SlotDataset, SlotStreamSampler, SlotTable

#: Where class transitions are read (``asd_transitions``): an image's argmax at
#: successive visits (SoC's tracking), its weak view's argmax -> its strong view's in one batch,
#: or (once labels are on) an image's argmax -> its feature-space neighbours' (.neighbour_transitions).
TRANSITION_SOURCES = ("views", "visits", "neighbours", "auto")
#: When a cold k-Medoids fit competes with the warm-started map (``asd_cold_refit``).
COLD_REFITS = ("never", "handover", "labels_on")


#: The method's own config keys. Defaults suit the digits embedded default.
ASD_METHOD_ARGUMENTS: List[PluginArgument] = [
    PluginArgument("--asd_num_instances", int, 0,
                   "n_l, instance classes (and instances sampled per round); 0 means default_num_instances(k)"),
    PluginArgument("--asd_draw_factor", int_or_auto, "auto",
                   "c: a round draws c x as many candidates as entries and OT keeps the best-fitting one per entry "
                   "(1: every drawn image is placed, the paper's draw; auto: 4, or fewer where the pool is small)"),
    PluginArgument("--asd_ot_reg", float, 0.05, "Sinkhorn entropic regularisation (relative to the largest cost)"),
    PluginArgument("--asd_window", int, 200, "N_b, batches of transitions remembered"),
    PluginArgument("--asd_round_iter", int_or_auto, 100, "N_t, iterations between redraws of the sample set"),
    PluginArgument("--asd_cluster_iter", int_or_auto, 50, "iterations between k-Medoids re-clusterings"),
    PluginArgument("--asd_recluster_lag", int, 0,
                   "L: a re-clustering started after iteration t runs in a background worker on a snapshot "
                   "and its map applies after iteration t + L (0: at once, in the step; must be < asd_cluster_iter)"),
    PluginArgument("--asd_warmup_iter", int_or_auto, 1000,
                   "the latest step at which the learner's cluster labels switch on (earlier once maps agree)"),
    PluginArgument("--asd_switch_ari", float, 0.9,
                   "cluster labels switch on at the first re-clustering whose map agrees (asd_switch_rule) "
                   "at this adjusted Rand index (above 1: only at asd_warmup_iter)"),
    PluginArgument("--asd_switch_rule", str, "consecutive",
                   f"one of {SWITCH_RULES}: what the map must agree with for the labels to switch on, the previous "
                   "map, or also a cold k-Medoids fit of the same transitions (cold_fit: asd_mapping: ctt), or "
                   "the previous map at each re-clustering of the last asd_window steps (held)"),
    PluginArgument("--asd_instance_loss_ratio", float, 1.0, "weight of the instance head's cross-entropy"),
    PluginArgument("--asd_instance_ssl_ratio", float, 1.0,
                   "weight of the instance head's swapped prediction of balanced (Sinkhorn) targets on every "
                   "unlabelled batch (0: off, the instance head then learns from the sampled instances only)"),
    PluginArgument("--asd_freeze_prototypes_iter", int, 100,
                   "iterations during which the instance head's prototypes get no gradient (the features are random)"),
    PluginArgument("--asd_prototype_update", str, "gradient",
                   f"one of {PROTOTYPE_UPDATES}: how the instance head's prototypes move, by the swapped-prediction "
                   "gradient (SwAV); as running means of their cells (online spherical k-means; an option); or by "
                   "gradient with Lloyd steps on a queue of recent projections at every re-clustering (an option)"),
    PluginArgument("--asd_init_assignments", str, None,
                   "start from a given clustering instead of cold: an assignments CSV (columns image, cluster; "
                   "a run's own assignments.csv) or a .npy of cluster ids in pool order; its labels serve until "
                   "the chain's own maps agree, and the maps refine it"),
    PluginArgument("--asd_cold_refit", str, "never",
                   f"one of {COLD_REFITS} (asd_mapping: ctt): when a cold k-Medoids fit of the current transitions "
                   "competes with the warm-started map (the lower objective stays): never; once, at the hand-over "
                   "from asd_init_assignments; or from the moment cluster labels are on, at every re-clustering"),
]

#: The variants' keys: each picks an entry of its stage's registry (the first value is the paper's path).
ASD_VARIANT_ARGUMENTS: List[PluginArgument] = [
    PluginArgument("--asd_sampler", str, "uniform",
                   f"one of {SAMPLER_NAMES} (usb_asd.asd.sampling.SAMPLERS): uniform without repeats, or "
                   "prototypes with their neighbours"),
    PluginArgument("--asd_alignment", str, "ot",
                   f"one of {ALIGNMENTS} (usb_asd.asd.alignment.PLACEMENTS): new instances take entries by "
                   "optimal transport, or in draw order (ablation)"),
    PluginArgument("--asd_transitions", str, "auto",
                   f"one of {TRANSITION_SOURCES}: argmax moves from an image's weak view to its strong view, or "
                   "between its visits (SoC); neighbours: views until the labels switch on, then from each image to "
                   "its 10 nearest neighbours in the learner's feature space (an option); auto: views for learners "
                   "with a strong view, else visits"),
    PluginArgument("--asd_mapping", str, "ctt",
                   f"one of {MAPPINGS} (usb_asd.asd.cluster_maps.CLUSTER_MAPS): k-Medoids on class transitions "
                   "(ASD), a clustering of the pool's features (asd_feature_clustering; not the paper's), or "
                   "random (ablation)"),
    PluginArgument("--asd_kmedoids_distance", str, "spectral",
                   f"one of {DISTANCES}: k-Medoids distance in the spectral embedding of S, or 1 - S/max S"),
    PluginArgument("--asd_feature_clustering", str, "kmeans",
                   f"one of {FEATURE_CLUSTERINGS}: how asd_mapping: features clusters the pool's features "
                   "(warm-started k-means, or spectral clustering of their kNN graph)"),
]

#: Every ``asd_*`` key.
ASD_ARGUMENTS: List[PluginArgument] = ASD_METHOD_ARGUMENTS + ASD_VARIANT_ARGUMENTS


#: Learners the adaptor refuses, with why (on top of those the plugin refuses altogether).
ASD_UNSUPPORTED_LEARNERS = {
    "fullysupervised": "it reads no unlabelled images, so there are no predictions to track "
    "transitions on and no cluster map can form",
    "supervised": "an alias of fullysupervised: it reads no unlabelled images",
}


def asd_settings_from_args(args, num_samples: Optional[int] = None) -> ASDSettings:
    """Check the ASD keys of a run and build :class:`ASDSettings`.

    Args:
        args: The run's settings.
        num_samples: The pool's size where known (``asd_draw_factor: auto`` follows it).
    """
    if args.algorithm in ASD_UNSUPPORTED_LEARNERS:
        raise ValueError(
            f"adaptor: asd cannot drive algorithm '{args.algorithm}': {ASD_UNSUPPORTED_LEARNERS[args.algorithm]}"
        )
    if int(getattr(args, "num_labels", 0) or 0) != 0:
        raise ValueError(
            f"num_labels is {args.num_labels} but adaptor: asd trains with no labels; set num_labels: 0"
        )
    for key in ("asd_round_iter", "asd_cluster_iter"):
        if getattr(args, key) < 1:
            raise ValueError(f"{key} must be >= 1, got {getattr(args, key)}")
    lag = getattr(args, "asd_recluster_lag", 0)  # checkpoints written before the key existed: synchronous
    if not 0 <= lag < args.asd_cluster_iter:
        raise ValueError(
            f"asd_recluster_lag must be >= 0 and below asd_cluster_iter ({args.asd_cluster_iter}): "
            f"a map must be applied before the next re-clustering starts; got {lag}"
        )
    cold_refit = getattr(args, "asd_cold_refit", "never")  # checkpoints written before the key existed
    if cold_refit not in COLD_REFITS:
        raise ValueError(f"asd_cold_refit must be one of {COLD_REFITS}, got {cold_refit!r}")
    competing = [name for name, cls in CLUSTER_MAPS.items() if cls.competes_cold]
    if cold_refit != "never" and args.asd_mapping not in competing:
        raise ValueError(f"asd_cold_refit: {cold_refit} needs asd_mapping: {' or '.join(competing)} (a k-Medoids "
                         f"map), got asd_mapping: {args.asd_mapping}")
    if cold_refit == "handover" and not getattr(args, "asd_init_assignments", None):
        raise ValueError("asd_cold_refit: handover acts at the hand-over from asd_init_assignments, "
                         "which is not set; use labels_on (or never) for a cold start")
    switch_rule = getattr(args, "asd_switch_rule", "consecutive")  # checkpoints written before the key existed
    if switch_rule not in SWITCH_RULES:
        raise ValueError(f"asd_switch_rule must be one of {SWITCH_RULES}, got {switch_rule!r}")
    if switch_rule == "cold_fit" and args.asd_mapping not in competing:
        raise ValueError(f"asd_switch_rule: cold_fit compares the map with a cold k-Medoids fit and needs "
                         f"asd_mapping: {' or '.join(competing)}, got asd_mapping: {args.asd_mapping}")
    if args.asd_transitions not in TRANSITION_SOURCES:
        raise ValueError(f"asd_transitions must be one of {TRANSITION_SOURCES}, got {args.asd_transitions!r}")
    if args.asd_warmup_iter < 0:
        raise ValueError(f"asd_warmup_iter must be >= 0, got {args.asd_warmup_iter}")
    if not args.asd_switch_ari >= 0:
        raise ValueError(f"asd_switch_ari must be >= 0, got {args.asd_switch_ari}")
    if getattr(args, "asd_init_assignments", None) and args.asd_mapping == "random":
        raise ValueError("asd_init_assignments is refined by the chain's maps, and asd_mapping: random (an "
                         "ablation) has none; set asd_mapping: ctt or features, or leave asd_init_assignments out")
    if args.asd_instance_ssl_ratio < 0 or args.asd_freeze_prototypes_iter < 0:
        raise ValueError("asd_instance_ssl_ratio and asd_freeze_prototypes_iter must be >= 0, got "
                         f"{args.asd_instance_ssl_ratio} and {args.asd_freeze_prototypes_iter}")
    prototype_update = getattr(args, "asd_prototype_update", "gradient")  # checkpoints written before the key
    if prototype_update not in PROTOTYPE_UPDATES:
        raise ValueError(f"asd_prototype_update must be one of {PROTOTYPE_UPDATES}, got {prototype_update!r}")
    if prototype_update in ("mean", "lloyd") and args.asd_instance_ssl_ratio == 0:
        raise ValueError(f"asd_prototype_update: {prototype_update} moves the prototypes with the unlabelled batches' projections, "
                         "which asd_instance_ssl_ratio: 0 switches off; set asd_instance_ssl_ratio above 0 or "
                         "asd_prototype_update: gradient")
    n_l = args.asd_num_instances or default_num_instances(args.num_classes, num_samples)
    variants = dict(sampler=args.asd_sampler, alignment=args.asd_alignment, mapping=args.asd_mapping,
                    kmedoids_distance=args.asd_kmedoids_distance, feature_clustering=args.asd_feature_clustering)
    selects = ASDSettings(num_clusters=args.num_classes, num_instances=n_l, **variants).selects_candidates
    return ASDSettings(
        num_clusters=args.num_classes,
        num_instances=n_l,
        ot_reg=args.asd_ot_reg,
        window=args.asd_window,
        draw_factor=resolve_draw_factor(args.asd_draw_factor, num_samples, n_l, selects),
        seed=args.seed,
        **variants,
    )


def pool_forward_workers(num_images: int, batch_size: int, num_workers: int) -> int:
    """Loader workers for an eval-mode pass over ``num_images`` pool images.

    The run's ``num_workers`` when the pass has at least 8 batches, else 0 (the
    workers' start costs more than a few batches take in the training process).
    The eval transform is deterministic, so the result is the same either way.
    """
    return int(num_workers) if num_images >= 8 * max(1, int(batch_size)) else 0


class ASDAdaptorMixin:
    """Composes ASD with a USB learner; placed before ``PluginLearnerMixin`` in the MRO."""

    def __init__(self, args, net_builder, tb_log=None, logger=None, **kwargs) -> None:
        self.asd_settings = asd_settings_from_args(args)
        has_strong_view = "x_ulb_s" in signature(self.train_step).parameters
        # Resolved here, not written back into args: the checkpoint compares args as given.
        self.asd_transition_source = args.asd_transitions
        if args.asd_transitions == "auto":
            self.asd_transition_source = "views" if has_strong_view else "visits"
        if self.asd_transition_source in ("views", "neighbours") and not has_strong_view:
            raise ValueError(
                f"asd_transitions: {self.asd_transition_source} reads the strong unlabelled view (x_ulb_s; "
                f"neighbours until the labels switch on), which algorithm '{args.algorithm}' does not use; "
                f"set asd_transitions: visits"
            )
        super().__init__(args, net_builder, tb_log=tb_log, logger=logger, **kwargs)

    # ---- data -------------------------------------------------------------
    def requires_labelled_split(self) -> bool:
        return False

    def adapt_datasets(self, dataset_dict):
        dataset_dict = super().adapt_datasets(dataset_dict)
        pool = dataset_dict["train_ulb"]
        self.asd_pool = pool
        self.asd_settings = asd_settings_from_args(self.args, num_samples=len(pool))
        self.asd_eval_transform = dataset_dict["eval"].transform
        # One state across ranks in a distributed run (.distributed); the plain builder otherwise.
        self.asd_builder = make_label_builder(self.asd_settings, len(pool))
        init = getattr(self.args, "asd_init_assignments", None)
        if init:
            # Checked against the pool before the run wrote anything (usb_asd.preflight); read again here,
            # in every process, so the labels come from the file and not from a broadcast.
            given = read_given_assignments(init, image_names(pool.data, len(pool)), self.asd_settings.num_clusters)
            self.asd_builder.start_from(given.clusters)
            self.print_fn(f"asd: starting from {init} ({len(pool)} images, {self.asd_settings.num_clusters} "
                          "clusters): its labels serve until the chain's own maps agree")
        self.asd_gate = MapAgreementGate(self.args.asd_switch_ari, self.args.asd_warmup_iter,
                                         getattr(self.args, "asd_switch_rule", "consecutive"),
                                         hold=held_re_clusterings(self.args.asd_window, self.args.asd_cluster_iter))
        self.asd_objective = BalancedInstanceObjective(
            self.asd_settings.num_instances, self.args.batch_size * self.args.uratio, sum_over_ranks()
        )
        # asd_prototype_update: mean: a running mean over about one pass over the pool (.prototype_means);
        # None: the prototypes learn by gradient.
        self.asd_prototype_momentum = None
        # asd_prototype_update: lloyd: the queue and Lloyd steps run at each re-clustering; None otherwise.
        self.asd_prototype_lloyd = None
        prototype_update = getattr(self.args, "asd_prototype_update", "gradient")
        _, world_size = distributed_world()
        if prototype_update == "mean":
            self.asd_prototype_momentum = epoch_momentum(self.args.batch_size * self.args.uratio * world_size,
                                                         len(pool))
        elif prototype_update == "lloyd":
            self.asd_prototype_lloyd = PrototypeLloyd(lloyd_queue_length(len(pool), world_size),
                                                      all_reduce=self.asd_objective.all_reduce)
        self.asd_table = SlotTable(self.asd_settings.num_instances, self.args.asd_round_iter)
        with_strong = "x_lb_s" in signature(self.train_step).parameters
        dataset_dict["train_lb"] = SlotDataset(pool, self.asd_table, self.asd_settings.num_clusters, with_strong)
        return dataset_dict

    def labelled_sampler(self, usb_sampler, batch_size: int) -> SlotStreamSampler:
        # (iteration, slot) keys, so loader workers pick the slot table of the right round.
        return SlotStreamSampler(usb_sampler, batch_size)

    def set_data_loader(self):
        loader_dict = super().set_data_loader()
        loader = loader_dict.get("train_lb") if loader_dict is not None else None
        if loader is not None and not isinstance(loader.sampler, SlotStreamSampler):
            raise TypeError(
                f"adaptor: asd needs one of USB's train samplers for the labelled loader "
                f"(train_sampler: RandomSampler or WeightedRandomSampler), got {type(loader.sampler).__name__}"
            )
        return loader_dict

    def asd_publish_slots(self, first_iteration: int) -> None:
        """Publish the builder's slots to the loader's workers, for iterations from ``first_iteration`` on."""
        self.asd_table.publish(self.asd_builder.slots, first_iteration)

    def process_batch(self, input_args=None, **kwargs):
        if input_args is None:
            input_args = list(signature(self.train_step).parameters.keys())
        slot_idx = kwargs.pop("idx_lb").long()
        instances = kwargs.pop("inst_lb").long().numpy()
        iterations = kwargs.pop("it_lb").long().numpy()
        # Invariants of the slot stream: a batch is of this iteration and of the current table.
        if np.any(iterations != self.it) or not np.array_equal(instances, self.asd_builder.slots[slot_idx.numpy()]):
            raise RuntimeError(
                f"asd: the labelled batch of iteration {self.it} was built for iterations "
                f"{sorted(set(iterations.tolist()))} or from another slot table"
            )
        labels = self.asd_builder.labels_for_entries(slot_idx.numpy())
        # During warm-up there are no cluster labels: the learner's loss is
        # switched off by ASDInstanceHook, so these zeros never train anything.
        y_lb = torch.zeros(len(slot_idx), dtype=torch.long) if labels is None else torch.from_numpy(labels)
        kwargs.update(y_lb=y_lb, idx_lb=slot_idx)
        batch = super().process_batch(input_args, **kwargs)
        x_ulb_w = batch.get("x_ulb_w")
        if x_ulb_w is None and kwargs.get("x_ulb_w") is not None:
            x_ulb_w = kwargs["x_ulb_w"].to(self.device)
        self.asd_batch = {
            # The instance head's targets: entry j is instance class j.
            "slots": slot_idx.to(self.device, dtype=torch.long),
            "x_lb": batch["x_lb"] if "x_lb" in batch else kwargs["x_lb"].to(self.device),
            "idx_ulb": kwargs.get("idx_ulb"),
            "x_ulb_w": x_ulb_w,
            "x_ulb_s": batch.get("x_ulb_s"),
        }
        return batch

    # ---- model ------------------------------------------------------------
    def set_model(self):
        model = TwoHeadNet(super().set_model(), self.asd_settings.num_instances)
        if getattr(self.args, "asd_prototype_update", "gradient") == "mean":
            # Moved by ASDInstanceHook as running means, never by the optimiser.
            model.instance_head.prototypes.requires_grad_(False)
        return model

    def set_ema_model(self):
        # Same as building a fresh net and loading the model's weights (USB's
        # way), without each learner's own rebuild logic.
        return copy.deepcopy(self.model)

    # ---- hooks ------------------------------------------------------------
    def set_hooks(self) -> None:
        from .hooks import ASDInstanceHook, ASDRoundHook

        # Registered before the learner's hooks at the same (highest) priority,
        # so the instance loss is added before USB's ParamUpdateHook steps.
        self.register_hook(ASDInstanceHook(), "ASDInstanceHook", "HIGHEST")
        super().set_hooks()
        # After the update, before USB's checkpoint (HIGH): a saved state already
        # includes this iteration's re-clustering and redraw.
        self.register_hook(ASDRoundHook(), "ASDRoundHook", "VERY_HIGH")

    def asd_labels_ready(self) -> bool:
        """Whether the learner trains on cluster labels yet: a given clustering serves, or the gate is on
        and a mapping exists."""
        builder = self.asd_builder
        return builder.given_labels_on or (self.asd_gate.is_on(self.it) and builder.slot_clusters is not None)

    def labelled_targets_ready(self) -> bool:
        return self.asd_labels_ready()

    def results_extras(self) -> Dict[str, Any]:
        """ASD's part of results.json: when the cluster labels switched on, and when rule
        ``consecutive`` alone would have (equal steps: a run with it makes the same decisions)."""
        gate = self.asd_gate
        return {"asd_switch_on": {"rule": gate.rule, "step": gate.on_since,
                                  "consecutive_step": gate.consecutive_on_since}}

    def asd_label_score(self) -> Optional[float]:
        """ACC of the current slots' cluster labels against ground truth, when the pool has it.

        A diagnostic score, logged as ``eval/asd_label_acc`` at each re-clustering and as
        ``eval/asd_redraw_label_acc`` right after a redraw: ground truth is read
        here only to measure, never to train.
        """
        from ..metrics import cluster_accuracy

        clusters = self.asd_builder.entry_clusters
        targets = np.asarray(self.asd_pool.targets)[self.asd_builder.slots]
        if clusters is None or np.any(targets < 0):
            return None
        return cluster_accuracy(targets, clusters)

    # ---- features -----------------------------------------------------------
    @torch.no_grad()
    def asd_forward(self, indices: np.ndarray, desc: str) -> Tuple[np.ndarray, np.ndarray]:
        """Features and instance-head log-probabilities of pool samples (eval mode, raw model).

        Returns:
            ``(features (m, D), log_probs (m, n_l))`` as float32 arrays (the model's
            own precision; the stages that need float64 convert exactly, and a pool
            of 1.28 M images x 512 features takes 2.6 GB instead of 5.2).
        """
        model = unwrap(self.model)
        was_training = model.training
        model.eval()
        batch_size = self.args.eval_batch_size
        loader = DataLoader(
            EvalView(self.asd_pool, self.asd_eval_transform, np.asarray(indices)),
            batch_size=batch_size,
            shuffle=False,
            # The loader's workers decode and transform a large pool (the whole pool for the
            # feature map or prototype sampling); a redraw's few batches are not worth starting them.
            num_workers=pool_forward_workers(len(indices), batch_size, self.args.num_workers),
        )
        feats, log_probs = [], []
        try:
            for x in tqdm(loader, desc=desc, leave=False, disable=None):
                out = model(x.to(self.device))
                feats.append(out["feat"].float().cpu())
                log_probs.append(F.log_softmax(out["logits_instance"].float(), dim=1).cpu())
        finally:
            model.train(was_training)
        return torch.cat(feats).numpy(), torch.cat(log_probs).numpy()

    def _asd_recluster_features(self) -> Optional[np.ndarray]:
        """The pool's features when the map needs them (eval-mode forward, in this step), else None."""
        builder = self.asd_builder
        if not builder.needs_features_to_recluster:
            return None
        features, _ = self.asd_forward(np.arange(builder.num_samples), "asd: pool features")
        return features

    def asd_recluster(self, compete_cold: bool = False) -> bool:
        """Rebuild the instance->cluster map (with the pool's features when the map needs them)."""
        return self.asd_builder.recluster(self._asd_recluster_features(), compete_cold=compete_cold)

    def asd_start_recluster(self, apply_at: int, compete_cold: bool = False) -> None:
        """Start a re-clustering in a background worker (.background), its map to apply after iteration ``apply_at``.

        The pool forward (``asd_mapping: features``) runs here, in the step: it
        uses the model; only the clustering runs beside training.
        """
        self.asd_builder.start_recluster(apply_at, self._asd_recluster_features(), compete_cold=compete_cold)

    def asd_finish_recluster(self) -> bool:
        """Apply the pending re-clustering (waiting for it if it is still running)."""
        return self.asd_builder.finish_recluster()

    def asd_new_round(self, first_iteration: int) -> None:
        """Draw a new sample set, place it in slots (OT-aligned unless switched off) and publish it.

        Args:
            first_iteration: The first training iteration (0-based) the new slots serve.
        """
        builder = self.asd_builder
        features = None
        if builder.needs_features:
            features, _ = self.asd_forward(np.arange(builder.num_samples), "asd: pool features")
        instances = builder.draw(features)
        log_probs = None
        if builder.needs_log_probs:
            _, log_probs = self.asd_forward(instances, "asd: align")
        builder.place(instances, log_probs)
        self.asd_publish_slots(first_iteration)

    # ---- checkpoints ------------------------------------------------------
    def get_save_dict(self):
        save_dict = super().get_save_dict()
        save_dict["asd"] = encode(self.asd_builder.state_dict())
        save_dict["asd_objective"] = encode(self.asd_objective.state_dict())
        save_dict["asd_gate"] = encode(self.asd_gate.state_dict())
        if self.asd_prototype_lloyd is not None:
            save_dict["asd_prototype_lloyd"] = encode(self.asd_prototype_lloyd.state_dict())
        return save_dict

    def load_model(self, load_path):
        checkpoint = super().load_model(load_path)
        if "asd" not in checkpoint:
            raise ValueError(f"checkpoint {load_path!r} has no ASD state: it was not saved by an adaptor: asd run")
        self.asd_builder.load_state_dict(decode(checkpoint["asd"]))
        if "asd_objective" not in checkpoint:
            raise ValueError(f"checkpoint {load_path!r} has no state of ASD's instance objective: it was written "
                             "by an earlier version of usb-asd, whose instance stage differs; start a new run")
        self.asd_objective.load_state_dict(decode(checkpoint["asd_objective"]), self.device)
        self.asd_gate.load_state_dict(decode(checkpoint["asd_gate"]))
        if self.asd_prototype_lloyd is not None:
            if "asd_prototype_lloyd" not in checkpoint:
                raise ValueError(f"checkpoint {load_path!r} holds no queue for asd_prototype_update: lloyd: it was "
                                 "saved by a run with another asd_prototype_update; resume with that setting")
            self.asd_prototype_lloyd.load_state_dict(decode(checkpoint["asd_prototype_lloyd"]), self.device)
        return checkpoint
